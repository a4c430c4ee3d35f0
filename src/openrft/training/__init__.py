"""RFT training jobs: GRPO on TRL with a grader as the reward.

>>> from openrft.training import TrainConfig, run_training
>>> result = run_training(TrainConfig(model="smollm2-135m-instruct", train_file=Path("train.jsonl"),
...                                   grader=grader_json, out_dir=Path("runs/job")))
>>> result.best_checkpoint          # runs/job/best: loadable by openrft.models and by PEFT

Importing this package is cheap; TRL and torch load when a job starts.
"""

from openrft.training._hyper import Hyperparameters, Resolved, parse_overrides, resolve

__all__ = [
    "Hyperparameters",
    "JobControl",
    "Resolved",
    "TrainConfig",
    "TrainResult",
    "parse_overrides",
    "resolve",
    "run_training",
]


def __getattr__(name: str) -> object:
    if name in {"JobControl", "TrainConfig", "TrainResult", "run_training"}:
        from openrft.training import _callback, _runner

        return getattr(_runner, name, None) or getattr(_callback, name)
    raise AttributeError(name)
