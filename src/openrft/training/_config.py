"""A training job's configuration and outcome, as :func:`openrft.training.run_training` takes and
returns them (the job as given on disk is :class:`openrft.training.JobSpec`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openrft.training._hyper import Hyperparameters, Resolved


@dataclass
class TrainConfig:
    """One job: the model, the data, the grader and the hyperparameters."""

    model: str
    train_file: Path
    grader: dict[str, Any]
    out_dir: Path
    valid_file: Path | None = None
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    response_format: dict[str, Any] | None = None
    """OpenAI's ``response_format`` (``json_schema``): rollouts and validation decode under it."""
    preflight: bool = True
    """Sample the base model and score trivial exploits before the first step."""
    allow_exploits: bool = False
    """Train even when the preflight finds an exploit that scores high."""
    rollout_server: str | None = None
    """A vLLM-compatible server (``http://host:8000/v1``) that samples rollouts and validations
    from each LoRA policy version (``_rollouts.py``); default ``OPENRFT_ROLLOUT_BASE_URL``.
    Unset: the trainer samples in-process."""
    rollout_prefix: str | None = None
    """Adapter names on that server are ``<prefix>-v<step>``; default from the output folder."""
    rollout_keep: int = 2
    """Policy versions kept loaded on the server (vLLM's ``--max-loras`` must be at least this)."""


@dataclass
class TrainResult:
    status: str
    """``succeeded``, ``paused`` or ``cancelled`` (failures raise)."""
    best_checkpoint: Path | None
    best_step: int | None
    hyperparameters: Resolved | None
    """The resolved hyperparameters (None: the job stopped before resolving them)."""
    final_metrics: dict[str, Any] | None
    """The last step's :class:`~openrft.training.StepMetrics`, as stored."""
    preflight: dict[str, Any] | None = None
    out_dir: Path | None = None
