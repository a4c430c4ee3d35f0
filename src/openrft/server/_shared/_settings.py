"""The server's settings, read once from ``OPENRFT_*`` variables (or passed by ``openrft serve``)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from openrft.store import Store, default_data_dir

MiB = 1024 * 1024


class ServerSettings(BaseSettings):
    """What ``openrft serve`` and ``openrft worker`` run with; every field is ``OPENRFT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="OPENRFT_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    """Uploaded files, job folders and the SQLite database (``~/.local/share/openrft``)."""
    database_url: str | None = None
    """``postgresql://user@host/db`` to share one database between workers on several machines;
    unset = SQLite in ``data_dir``."""
    api_keys: Annotated[list[str], NoDecode] = []
    """Bearer keys the API accepts (comma-separated). None configured: a key is generated once,
    kept in ``DATA_DIR/api-key`` and printed at start (``--no-auth`` turns auth off instead)."""
    no_auth: bool = False
    """Accept every request without a key (loopback experiments only)."""
    max_upload_bytes: int = Field(default=512 * MiB, ge=1)
    """Largest file ``POST /v1/files`` accepts (OpenAI's limit: 512 MB)."""
    max_request_bytes: int = Field(default=8 * MiB, ge=1024)
    """Largest JSON request body (chat, graders, evals and runs with inline content, …): upload
    bigger data as a file and name its id."""
    allowed_hosts: Annotated[list[str], NoDecode] = []
    """``Host`` values the API answers (comma-separated, ``*.example.com`` and ``*`` allowed);
    empty = loopback names only (``localhost``, ``127.0.0.1``, ``[::1]``), which keeps a web
    page from reaching a local server through DNS rebinding. ``openrft serve --host`` adds its
    own address (any, for ``0.0.0.0``)."""
    api_docs: bool = False
    """Serve the interactive API docs at ``/docs`` (they load scripts from a CDN on the origin
    that holds the dashboard's key); ``/openapi.json`` is always served."""
    upload_sweep_seconds: float = Field(default=600.0, gt=0)
    """How often the API removes the bytes of uploads that a killed process left behind."""
    max_completion_tokens: int = Field(default=4096, ge=1)
    """Most tokens one chat, responses or completions request may ask for (``max_tokens``,
    ``max_completion_tokens``, ``max_output_tokens``; more is a 400); the model's context
    left after the prompt cuts it further."""
    default_max_tokens: int = Field(default=512, ge=1)
    """Tokens generated when a request sets no limit."""
    max_n: int = Field(default=128, ge=1, le=128)
    """Most choices one chat or completions request may ask for (OpenAI's limit: 128)."""
    preflight: Literal["warn", "fail"] = "warn"
    """What a job does when its preflight finds an exploitable grader: ``warn`` (a warning event,
    the job's alarms and the dashboard show it, and the job runs) or ``fail`` (the job fails
    before its first step). A job sets its own with ``"preflight"`` in the request body
    (``extra_body`` with the official client)."""
    max_generation_seconds: float = Field(default=300.0, gt=0)
    """A generation still running after this long stops (``finish_reason`` ``length``)."""
    max_loaded_models: int = Field(default=2, ge=1)
    """Models kept in memory for chat completions and responses (least recently used leaves)."""
    models: dict[str, str] = {}
    """Extra base models by name: ``{"qwen-0.5b": "/models/qwen2.5-0.5b-instruct"}`` (JSON)."""
    hub_models: Annotated[list[str], NoDecode] = []
    """Hugging Face Hub ids clients may name directly as ``model`` (comma-separated; ``*`` = any).
    Registered names (``--model NAME=ORG/REPO``) need no entry here."""
    allow_runtime_lora_updating: bool = False
    """Serve vLLM's ``/v1/load_lora_adapter`` and ``/v1/unload_lora_adapter`` (what a trainer
    with ``--rollout-server`` calls). A client then names a folder the server reads: keep it to
    trusted keys, and set ``lora_roots``."""
    lora_roots: Annotated[list[Path], NoDecode] = []
    """Folders (comma-separated) that runtime-loaded adapters must lie in; empty = anywhere."""
    max_loaded_adapters: int = Field(default=64, ge=1)
    """LoRA adapters attached to one loaded base model at once (least recently used leave; they
    are attached again on their next request)."""
    adapter_server_url: str | None = None
    """A vLLM server (``http://gpu:8000/v1``, runtime LoRA updating on) that serves the ``ft:`` models
    and checkpoints of LoRA jobs as adapters on its base model; unset = served here, as adapters
    on one shared copy of the base model."""
    adapter_server_api_key: str | None = None
    """Bearer token for ``adapter_server_url`` (default: ``OPENAI_API_KEY``)."""
    lease_seconds: float = Field(default=60.0, gt=0)
    """A worker that has not heartbeaten for this long loses its job, which is queued again."""
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    """How often a worker renews its lease and checks for cancel or pause."""
    poll_seconds: float = Field(default=1.0, gt=0)
    """How often an idle worker looks for queued work."""
    max_attempts: int = Field(default=5, ge=1)
    """Starts after which a job whose worker keeps dying is failed."""

    @field_validator("api_keys", "hub_models", "lora_roots", "allowed_hosts", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    def open_store(self) -> Store:
        """The store these settings name (created on first use)."""
        return Store(self.data_dir, self.database_url, max_attempts=self.max_attempts)

    def resolved_api_keys(self) -> tuple[list[str], bool]:
        """The keys to accept and whether one was generated (and should be printed) just now."""
        if self.api_keys or self.no_auth:
            return list(self.api_keys), False
        path = Path(self.data_dir).expanduser() / "api-key"
        if path.exists():
            return [path.read_text().strip()], False
        path.parent.mkdir(parents=True, exist_ok=True)
        key = "sk-openrft-" + secrets.token_urlsafe(24)
        # Created 0600 in one step: the key is never readable by others, even briefly.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it a moment ago
            return [path.read_text().strip()], False
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        return [key], True
