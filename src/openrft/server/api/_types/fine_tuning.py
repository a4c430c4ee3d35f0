"""Fine-tuning jobs, their events and checkpoints (reference §5)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from openrft.store import JobStatus
from openrft.training import StepMetrics


class ReinforcementMethod(BaseModel):
    model_config = ConfigDict(extra="allow")

    grader: dict[str, Any]
    """string_check, text_similarity, score_model, python or multi (label_model inside multi)."""
    response_format: dict[str, Any] | None = None
    """Chat completions' ``response_format`` (``json_schema``): rollouts decode under it."""
    hyperparameters: dict[str, Any] | None = None
    """OpenAI's (``n_epochs``, ``batch_size``, ``learning_rate_multiplier``, ``compute_multiplier``,
    ``eval_interval``, ``eval_samples``, ``reasoning_effort``; ``"auto"`` allowed) plus openrft's
    (``max_steps``, ``lora``, ``lora_rank``, ``max_completion_length``, …; docs/training.md)."""


class Method(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["supervised", "dpo", "reinforcement"]
    reinforcement: ReinforcementMethod | None = None


class CreateFineTuningJobRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    """A base model (``GET /v1/models``), a checkpoint folder, or a fine-tuned ``ft:`` model."""
    training_file: str
    validation_file: str | None = None
    suffix: str | None = Field(default=None, min_length=1, max_length=64)
    seed: int | None = Field(default=None, ge=0, le=2147483647)
    metadata: dict[str, str] | None = None
    integrations: list[dict[str, Any]] | None = None
    hyperparameters: dict[str, Any] | None = None
    """Deprecated top-level form (``n_epochs``, ``batch_size``, ``learning_rate_multiplier``)."""
    method: Method | None = None
    preflight: Literal["warn", "fail"] | None = None
    """openrft: what an exploitable grader does to this job (``warn``: it runs with a warning;
    ``fail``: it fails before its first step); default: the server's ``OPENRFT_PREFLIGHT``."""


class JobError(BaseModel):
    code: str
    message: str
    param: str | None = None


class Hyperparameters(BaseModel):
    batch_size: Literal["auto"] | int | None = "auto"
    learning_rate_multiplier: Literal["auto"] | float | None = "auto"
    n_epochs: Literal["auto"] | int | None = "auto"


class JobProgress(BaseModel):
    """openrft's progress fields (read by the dashboard)."""

    step: int | None = None
    total_steps: int | None = None
    attempts: int = 0
    """How many times a worker started the job since it was last paused: a restart after a crash
    counts, a resume after a pause does not (``max_attempts`` bounds crashes)."""
    best_valid_reward_mean: float | None = None
    """The best validation's mean reward so far (its checkpoint is always kept)."""


class FineTuningJob(BaseModel):
    id: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    created_at: int
    error: JobError | None = None
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    hyperparameters: Hyperparameters
    model: str
    organization_id: str
    result_files: list[str] = []
    seed: int
    status: JobStatus
    """The SDK's six statuses plus ``paused`` (reference §8.5)."""
    trained_tokens: int | None = None
    training_file: str
    validation_file: str | None = None
    integrations: list[dict[str, Any]] | None = None
    estimated_finish: int | None = None
    method: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    user_provided_suffix: str | None = None
    usage_metrics: dict[str, Any] | None = None
    shared_with_openai: bool = False
    eval_id: str | None = None
    """The eval whose runs are this job's validation steps."""
    openrft: JobProgress | None = None


EventLevel = Literal["info", "warn", "error"]


class FineTuningJobEvent(BaseModel):
    id: str
    object: Literal["fine_tuning.job.event"] = "fine_tuning.job.event"
    created_at: int
    level: EventLevel
    message: str
    type: str | None = "message"
    """``message`` or ``metrics`` (a training step's metrics in ``data``)."""
    data: Any = None


class FineTuningJobCheckpoint(BaseModel):
    id: str
    object: Literal["fine_tuning.job.checkpoint"] = "fine_tuning.job.checkpoint"
    created_at: int
    fine_tuned_model_checkpoint: str
    """A model name: chat with it through ``/v1/chat/completions``."""
    fine_tuning_job_id: str
    metrics: dict[str, Any]
    """``step``, ``train_reward_mean``, ``valid_reward_mean`` (rewards are an RFT addition)."""
    step_number: int


class JobMetrics(BaseModel):
    """openrft: every step's metrics (a metrics event's ``data``), in step order (one page, for the
    dashboard)."""

    object: Literal["list"] = "list"
    data: list[StepMetrics]


class RolloutSteps(BaseModel):
    """openrft: the recorded steps (``{step, count}``) or one step's groups of completions."""

    object: Literal["list"] = "list"
    data: list[dict[str, Any]]
