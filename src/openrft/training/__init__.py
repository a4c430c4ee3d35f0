"""RFT training jobs: GRPO on TRL with a grader as the reward.

>>> from openrft.training import TrainConfig, run_training
>>> result = run_training(TrainConfig(model="smollm2-135m-instruct", train_file=Path("train.jsonl"),
...                                   grader=grader_json, out_dir=Path("runs/job")))
>>> result.best_checkpoint          # runs/job/best: loadable by openrft.models, transformers and PEFT

``run_training`` resumes by itself when ``out_dir`` holds a checkpoint; ``JobControl`` pauses
or cancels it from another thread. A job as given is a :class:`JobSpec` (``job.json``);
:func:`start_job` saves and runs one, in several processes when asked
(``python -m openrft.training run DIR`` is one of them). :class:`JobFolder` reads and writes a
job's files, its step metrics as :class:`StepMetrics`. Importing this package is cheap: TRL and
torch load when a job starts. See docs/training.md.
"""

from typing import TYPE_CHECKING

from openrft.training._hyper import (
    Hyperparameters,
    Resolved,
    parse_hyperparameters,
    parse_overrides,
    resolve,
)
from openrft.training._spec import JobSpec
from openrft.training._step_metrics import StepMetrics

if TYPE_CHECKING:  # the names __getattr__ loads on first use, as the type checker sees them
    from openrft.training._config import TrainConfig, TrainResult
    from openrft.training._control import JobControl
    from openrft.training._folder import JobFolder
    from openrft.training._job import run_job_process, start_job
    from openrft.training._launch import accelerate_command
    from openrft.training._preflight import EXPLOIT_LIMIT, run_preflight
    from openrft.training._reward import GraderFailure
    from openrft.training._runner import run_training

__all__ = [
    "EXPLOIT_LIMIT",
    "GraderFailure",
    "Hyperparameters",
    "JobControl",
    "JobFolder",
    "JobSpec",
    "Resolved",
    "StepMetrics",
    "TrainConfig",
    "TrainResult",
    "accelerate_command",
    "parse_hyperparameters",
    "parse_overrides",
    "resolve",
    "run_job_process",
    "run_preflight",
    "run_training",
    "start_job",
]

_LAZY = {
    "JobControl": "openrft.training._control",
    "JobFolder": "openrft.training._folder",
    "TrainConfig": "openrft.training._config",
    "TrainResult": "openrft.training._config",
    "run_training": "openrft.training._runner",
    "start_job": "openrft.training._job",
    "run_job_process": "openrft.training._job",
    "GraderFailure": "openrft.training._reward",
    "run_preflight": "openrft.training._preflight",
    "EXPLOIT_LIMIT": "openrft.training._preflight",
    "accelerate_command": "openrft.training._launch",
}

_MOVED = {
    "read_jsonl": "openrft.data.read_jsonl",
    "read_metrics": "openrft.training.JobFolder(out_dir).metrics()",
}
"""Names that moved in 0.1 and go in 0.2: they still work, with a FutureWarning."""


def _read_metrics(out_dir: object) -> list[dict[str, object]]:
    from pathlib import Path

    from openrft.training._folder import JobFolder

    return [m.row() for m in JobFolder(Path(str(out_dir))).metrics()]


def __getattr__(name: str) -> object:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _MOVED:
        import warnings

        warnings.warn(
            f"openrft.training.{name} moved to {_MOVED[name]}; the old name goes in openrft 0.2",
            FutureWarning,
            stacklevel=2,
        )
        if name == "read_jsonl":
            from openrft.data import read_jsonl

            return read_jsonl
        return _read_metrics
    raise AttributeError(name)
