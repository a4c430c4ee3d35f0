"""RFT training jobs: GRPO on TRL with a grader as the reward.

>>> from openrft.training import TrainConfig, run_training
>>> result = run_training(TrainConfig(model="smollm2-135m-instruct", train_file=Path("train.jsonl"),
...                                   grader=grader_json, out_dir=Path("runs/job")))
>>> result.best_checkpoint          # runs/job/best: loadable by openrft.models, transformers and PEFT

``run_training`` resumes by itself when ``out_dir`` holds a checkpoint; ``JobControl`` pauses
or cancels it from another thread. Importing this package is cheap: TRL and torch load when
a job starts. See docs/training.md.
"""

from openrft.training._hyper import (
    Hyperparameters,
    Resolved,
    parse_hyperparameters,
    parse_overrides,
    resolve,
)

__all__ = [
    "EXPLOIT_LIMIT",
    "GraderFailure",
    "Hyperparameters",
    "JobControl",
    "Resolved",
    "TrainConfig",
    "TrainResult",
    "accelerate_command",
    "parse_hyperparameters",
    "parse_overrides",
    "read_jsonl",
    "read_metrics",
    "resolve",
    "run_preflight",
    "run_training",
]

_LAZY = {
    "JobControl": "openrft.training._callback",
    "TrainConfig": "openrft.training._runner",
    "TrainResult": "openrft.training._runner",
    "run_training": "openrft.training._runner",
    "GraderFailure": "openrft.training._reward",
    "read_jsonl": "openrft.training._events",
    "read_metrics": "openrft.training._events",
    "run_preflight": "openrft.training._preflight",
    "EXPLOIT_LIMIT": "openrft.training._preflight",
    "accelerate_command": "openrft.training._launch",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
