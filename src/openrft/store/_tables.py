"""The store's tables (SQLAlchemy 2.x declarative), one class per OpenAI resource.

Rows are storage, not wire shapes: the server's serializers turn them into OpenAI's objects.
Each resource has an integer ``seq`` (insertion order, the pagination cursor) and OpenAI's
string ``id``. Queued work (fine-tuning jobs, eval runs) carries the queue columns of
:class:`QueueColumns`: who holds it and until when.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from openrft.store._status import JobStatus, OutputItemStatus, RunStatus

# SQLite integer primary keys must be INTEGER to autoincrement; PostgreSQL gets BIGINT.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


def status_type(enum: type[StrEnum], length: int) -> Enum:
    """A status column: the member's string in a VARCHAR (no database enum type, no CHECK), so a
    new status needs no migration; a string outside the enum is refused before it is written."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Meta(Base):
    """Key/value facts about the database itself (``schema_version``)."""

    __tablename__ = "openrft_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


DEFAULT_PROJECT = "default"
"""The project of the keys in ``OPENRFT_API_KEYS`` (and of rows written before projects existed)."""


class Owned:
    """A resource that belongs to one project: only that project's keys (and admin keys) see it."""

    project: Mapped[str] = mapped_column(String(64), server_default=DEFAULT_PROJECT, index=True)


@event.listens_for(Owned, "before_insert", propagate=True)
def _require_project(_mapper: Any, _connection: Any, row: Owned) -> None:
    # Fail closed: a row written without an owner must not silently join the default project.
    if not row.project:
        raise ValueError(f"{type(row).__name__} {getattr(row, 'id', '')!r} has no owner project")


class FileRow(Owned, Base):
    __tablename__ = "files"
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(Text)
    """The client's name, shown back only; the bytes are stored under ``id``."""
    purpose: Mapped[str] = mapped_column(String(32), index=True)
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    status: Mapped[str] = mapped_column(String(16), default="processed")
    status_details: Mapped[str | None] = mapped_column(Text, default=None)


class QueueColumns:
    """Columns of work that workers claim: holder and lease, attempts (and each table's ``status``)."""

    worker_id: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires_at: Mapped[float | None] = mapped_column(Float, default=None)
    """Unix time after which the holder is presumed dead and the work is taken back."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """How many times a worker has started it (a resumed job counts again)."""
    control: Mapped[str | None] = mapped_column(String(16), default=None)
    """A request to the running executor: ``pause`` (``cancel`` is a status of its own)."""


class JobRow(Owned, QueueColumns, Base):
    __tablename__ = "fine_tuning_jobs"
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    status: Mapped[JobStatus] = mapped_column(status_type(JobStatus, 32), index=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    model: Mapped[str] = mapped_column(Text)
    training_file: Mapped[str] = mapped_column(String(64))
    validation_file: Mapped[str | None] = mapped_column(String(64), default=None)
    suffix: Mapped[str | None] = mapped_column(String(64), default=None)
    seed: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The request's ``method``, echoed back as sent (grader, hyperparameters, response_format)."""
    job_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, default=None)
    integrations: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    fine_tuned_model: Mapped[str | None] = mapped_column(Text, default=None)
    finished_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    trained_tokens: Mapped[int | None] = mapped_column(BigInteger, default=None)
    result_files: Mapped[list[Any]] = mapped_column(JSON, default=list)
    estimated_finish: Mapped[int | None] = mapped_column(BigInteger, default=None)
    """Unix time the job should end at the pace of its last steps (None when not running)."""
    usage_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    """Training seconds, trained tokens, model graders' tokens."""
    eval_id: Mapped[str | None] = mapped_column(String(64), default=None)
    step: Mapped[int | None] = mapped_column(Integer, default=None)
    total_steps: Mapped[int | None] = mapped_column(Integer, default=None)


class JobEventRow(Base):
    __tablename__ = "fine_tuning_job_events"
    __table_args__ = (UniqueConstraint("job_id", "id"), Index("ix_events_job_seq", "job_id", "seq"))
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str] = mapped_column(ForeignKey("fine_tuning_jobs.id", ondelete="CASCADE"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    level: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(32), default="message")
    data: Mapped[Any] = mapped_column(JSON, default=None)
    source: Mapped[str] = mapped_column(String(16), default="server")
    """``server`` (queue and lifecycle) or ``training`` (mirrored from the job folder's events.jsonl)."""


class CheckpointRow(Base):
    __tablename__ = "fine_tuning_job_checkpoints"
    __table_args__ = (UniqueConstraint("job_id", "step_number"),)
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("fine_tuning_jobs.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    step_number: Mapped[int] = mapped_column(Integer)
    fine_tuned_model_checkpoint: Mapped[str] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    path: Mapped[str] = mapped_column(Text)


class ModelRow(Base):
    """A model the server can sample from: a registered base model, a fine-tuned model, a checkpoint."""

    __tablename__ = "models"
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(512), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``base``, ``fine-tuned`` or ``checkpoint``."""
    path: Mapped[str] = mapped_column(Text)
    """What :func:`openrft.models.open_backend` opens: a folder, a packaged name, an endpoint."""
    created_at: Mapped[int] = mapped_column(BigInteger)
    owned_by: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    project: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    """The project of the job that made it; None for base models, which every project may use."""


class EvalRow(Owned, Base):
    __tablename__ = "evals"
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    eval_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, default=None)
    data_source_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    """As returned (OpenAI's output form, with ``schema``)."""
    testing_criteria: Mapped[list[Any]] = mapped_column(JSON)
    """As returned (each criterion with its ``id``)."""


class EvalRunRow(Owned, QueueColumns, Base):
    __tablename__ = "eval_runs"
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    status: Mapped[RunStatus] = mapped_column(status_type(RunStatus, 32), index=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    eval_id: Mapped[str] = mapped_column(ForeignKey("evals.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    model: Mapped[str | None] = mapped_column(Text, default=None)
    data_source: Mapped[dict[str, Any]] = mapped_column(JSON)
    run_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, default=None)
    result_counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    per_model_usage: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    per_testing_criteria_results: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    job_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    """Set for the validation runs a fine-tuning job records."""


class OutputItemRow(Base):
    __tablename__ = "eval_output_items"
    __table_args__ = (
        UniqueConstraint("run_id", "datasource_item_id"),
        Index("ix_output_items_run_seq", "run_id", "seq"),
    )
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"))
    eval_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[OutputItemStatus] = mapped_column(status_type(OutputItemStatus, 16))
    datasource_item_id: Mapped[int] = mapped_column(Integer)
    datasource_item: Mapped[dict[str, Any]] = mapped_column(JSON)
    results: Mapped[list[Any]] = mapped_column(JSON)
    sample: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class SavedGraderRow(Owned, Base):
    """A grader saved from the dashboard's playground (an openrft addition)."""

    __tablename__ = "saved_graders"
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    grader: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ResponseRow(Owned, Base):
    """A stored model response (``POST /v1/responses`` unless ``store`` is false)."""

    __tablename__ = "responses"
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The response object as the API returns it."""
    input_items: Mapped[list[Any]] = mapped_column(JSON)
    """The request's input items, as ``GET /v1/responses/{id}/input_items`` lists them."""
    conversation: Mapped[list[Any]] = mapped_column(JSON)
    """The messages so far (earlier responses' included), which ``previous_response_id`` continues."""


class ApiKeyRow(Base):
    """An API key of one project, stored as a salted SHA-256 digest (the key itself is shown once)."""

    __tablename__ = "api_keys"
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    project: Mapped[str] = mapped_column(String(64), index=True)
    admin: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    """An admin key sees and changes every project's resources."""
    name: Mapped[str | None] = mapped_column(Text, default=None)
    salt: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    """Hex SHA-256 of the salt's bytes followed by the key's secret part."""
    redacted: Mapped[str] = mapped_column(String(64))
    """The key's prefix and last characters, to recognise it in a list."""
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
