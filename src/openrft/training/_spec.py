"""A training job as given: ``job.json`` in its folder.

``openrft train`` saves the job as it was asked for (the model, the files, the grader, the
``--set`` overrides, the preflight choices); ``openrft train --resume DIR`` and every process
of a launched job (``python -m openrft.training run DIR``) read it back. :meth:`JobSpec.config`
checks it whole, so that every input problem is one error before a model loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from openrft.errors import InvalidRequestError

if TYPE_CHECKING:
    from openrft.training._config import TrainConfig


class JobSpec(BaseModel):
    """What ``job.json`` holds."""

    model_config = ConfigDict(extra="forbid")

    model: str
    """The base model (see docs/models.md)."""
    train_file: Path
    """Training RFT JSONL."""
    valid_file: Path | None = None
    """Validation RFT JSONL (validations pick the best checkpoint)."""
    grader: dict[str, Any]
    """The grader JSON (the reward), as read when the job was created."""
    grader_file: Path | None = None
    """Where the grader was read from (shown in the closing ``openrft eval`` hint)."""
    response_format: dict[str, Any] | None = None
    """OpenAI's ``response_format`` (``json_schema``): rollouts and validations decode under it."""
    hyperparameters: dict[str, Any] = {}
    """The hyperparameters given (``--set``); the rest are ``auto`` or their defaults."""
    preflight: bool = True
    """Sample the base model and score trivial exploits before the first step."""
    allow_exploits: bool = False
    """Train even when the preflight finds an exploit that pays."""
    rollout_server: str | None = None
    """A vLLM-compatible server that samples LoRA rollouts (docs/vllm.md); unset: in the trainer."""

    @classmethod
    def from_json(cls, data: Any, where: str = "job.json") -> JobSpec:
        """Parse ``data``; the first problem is one :class:`InvalidRequestError` naming the field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "job"
            problem = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
            raise InvalidRequestError(f"{where}: {field}: {problem}", param=field) from None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def config(self, out_dir: Path) -> TrainConfig:
        """The checked :class:`~openrft.training.TrainConfig` of this job in ``out_dir``.

        Raises :class:`InvalidRequestError` (or its subclasses) for a bad hyperparameter, grader
        or data file, before anything heavy loads.
        """
        from openrft.data import load_rft_jsonl
        from openrft.graders import validate_grader
        from openrft.training._config import TrainConfig
        from openrft.training._hyper import parse_hyperparameters

        hyperparameters = parse_hyperparameters(self.hyperparameters)
        validate_grader(self.grader)
        load_rft_jsonl(self.train_file, split="train")
        if self.valid_file is not None:
            load_rft_jsonl(self.valid_file, split="valid")
        return TrainConfig(
            model=self.model,
            train_file=self.train_file,
            valid_file=self.valid_file,
            grader=self.grader,
            out_dir=out_dir,
            hyperparameters=hyperparameters,
            response_format=self.response_format,
            preflight=self.preflight,
            allow_exploits=self.allow_exploits,
            rollout_server=self.rollout_server,
        )
