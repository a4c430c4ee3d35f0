"""Settings, read once from ``OPENRFT_*`` environment variables (or passed explicitly)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_LOCAL_MODEL = "smollm2-135m-instruct"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "openrft"


class Settings(BaseSettings):
    """Everything a user can configure; every field is an ``OPENRFT_<NAME>`` variable."""

    model_config = SettingsConfigDict(env_prefix="OPENRFT_", extra="ignore")

    cache_dir: Path = Field(default_factory=_default_cache_dir)
    """Where converted model checkpoints and other derived files are kept."""

    # --- model graders (score_model, label_model) ---
    judge_base_url: str | None = None
    """An OpenAI-compatible endpoint for judge models; unset = a local judge served in-process."""
    judge_api_key: str | None = None
    judge_models: dict[str, str] = {}
    """Maps a grader's ``model`` (e.g. ``gpt-4.1-2025-04-14``) to the model the judge backend runs.
    As an environment variable: JSON, e.g. ``{"gpt-4.1-2025-04-14": "qwen2.5-7b-instruct"}``."""
    judge_default_model: str = DEFAULT_LOCAL_MODEL
    """What an unmapped grader model name runs on."""
    judge_timeout: float = Field(default=60.0, gt=0)
    """Seconds before one judge request is abandoned."""
    judge_max_retries: int = Field(default=3, ge=0)
    """Retries (with exponential backoff) on 429, 5xx and connection errors."""
    judge_concurrency: int = Field(default=8, ge=1)
    """Judge requests in flight at once."""

    # --- sampling: evals, training rollouts, the server's chat endpoint (docs/models.md) ---
    sampling_base_url: str | None = None
    """An OpenAI-compatible endpoint (``http://host:8000/v1``); a model name that is not local
    (not a packaged name or an existing path) is sampled there. Unset = local models only."""
    sampling_api_key: str | None = None
    """Bearer token for the sampling endpoint (default: ``OPENAI_API_KEY``)."""
    sampling_concurrency: int = Field(default=8, ge=1)
    """Sampling requests in flight at once."""
    sampling_timeout: float = Field(default=60.0, gt=0)
    """Seconds before one sampling request is abandoned (then retried)."""
    sampling_max_retries: int = Field(default=3, ge=0)
    """Retries (with exponential backoff) on 429, 5xx, timeouts and connection errors."""

    # --- training rollouts on a separate vLLM-compatible server (docs/training.md) ---
    rollout_base_url: str | None = None
    """A vLLM (or ``openrft serve``) endpoint, ``http://host:8000/v1``, with runtime LoRA loading on:
    LoRA jobs sample their rollouts and validations there. Unset = in the trainer."""
    rollout_api_key: str | None = None
    """Bearer token for the rollout server (default: ``OPENAI_API_KEY``)."""
    rollout_timeout: float = Field(default=600.0, gt=0)
    """Seconds one rollout request (a whole step's batch) may take."""

    # --- text_similarity cosine ---
    embeddings_base_url: str | None = None
    """An OpenAI-compatible ``/v1/embeddings`` endpoint; unset = the packaged local model."""
    embeddings_api_key: str | None = None
    embeddings_model: str = "text-embedding-3-large"
    """Model name sent to the embeddings endpoint (ignored by the local model)."""

    # --- python graders ---
    python_grader_workers: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1), ge=1)
    """Pre-started sandbox worker processes per python grader."""
    python_grader_timeout: float = Field(default=120.0, gt=0)
    """Wall-clock seconds one grade may take (OpenAI's limit is 2 minutes)."""
    python_grader_memory_mb: int = Field(default=2048, ge=64)
    """Address-space limit of a sandbox worker (OpenAI's limit is 2 GB)."""
    python_grader_disk_mb: int = Field(default=1024, ge=1)
    """Size of a sandbox worker's private /tmp (OpenAI's limit is 1 GB); RAM-backed, so it counts
    against the sandbox budget with the memory limit."""
    python_grader_budget_workers: int | None = Field(default=None, ge=1)
    """Live sandbox workers in one process, across every grader and project (default: two per
    CPU core); idle ones are evicted when a new one needs the room."""
    python_grader_budget_mb: int | None = Field(default=None, ge=64)
    """MiB the live sandbox workers of one process may hold between them, each counted at its
    memory limit plus its /tmp (default: half the host's memory)."""
    python_grader_idle_seconds: float = Field(default=300.0, gt=0)
    """A sandbox worker with nothing to grade for this long is stopped."""

    # --- batch grading ---
    grading_concurrency: int = Field(default=64, ge=1)
    """Samples graded at once by the batch API."""

    # --- RFT datasets (docs/datasets.md) ---
    max_train_rows: int = Field(default=50_000, ge=1)
    """Rows a training file may hold (OpenAI's limit)."""
    max_valid_rows: int = Field(default=1_000, ge=1)
    """Rows a validation file may hold (OpenAI's limit for test datasets)."""
    max_line_bytes: int = Field(default=1_048_576, ge=1024)
    """Bytes one JSONL line may take (1 MiB): far above any text prompt a local model can read."""
