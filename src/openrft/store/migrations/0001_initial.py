"""The schema openrft shipped before numbered migrations (schema version 1), frozen here.

These definitions must never change: a database at version 1 is exactly what they create.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# SQLite integer primary keys must be INTEGER to autoincrement; PostgreSQL gets BIGINT.
Seq = BigInteger().with_variant(Integer(), "sqlite")


def _seq() -> Column[int]:
    return Column("seq", Seq, primary_key=True, autoincrement=True)


def _queue_columns() -> list[Column[object]]:
    return [
        Column("status", String(32), nullable=False, index=True),
        Column("worker_id", String(128)),
        Column("lease_expires_at", Float),
        Column("attempts", Integer, nullable=False),
        Column("control", String(16)),
    ]


METADATA = MetaData()

Table(
    "openrft_meta",
    METADATA,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
Table(
    "files",
    METADATA,
    _seq(),
    Column("id", String(64), nullable=False, unique=True),
    Column("filename", Text, nullable=False),
    Column("purpose", String(32), nullable=False, index=True),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger),
    Column("status", String(16), nullable=False),
    Column("status_details", Text),
)
Table(
    "fine_tuning_jobs",
    METADATA,
    _seq(),
    Column("id", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("model", Text, nullable=False),
    Column("training_file", String(64), nullable=False),
    Column("validation_file", String(64)),
    Column("suffix", String(64)),
    Column("seed", BigInteger, nullable=False),
    Column("method", JSON, nullable=False),
    Column("metadata", JSON),
    Column("integrations", JSON),
    Column("error", JSON),
    Column("fine_tuned_model", Text),
    Column("finished_at", BigInteger),
    Column("trained_tokens", BigInteger),
    Column("result_files", JSON, nullable=False),
    Column("eval_id", String(64)),
    Column("step", Integer),
    Column("total_steps", Integer),
    *_queue_columns(),
)
Table(
    "fine_tuning_job_events",
    METADATA,
    _seq(),
    Column("id", String(64), nullable=False),
    Column("job_id", String(64), ForeignKey("fine_tuning_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("level", String(8), nullable=False),
    Column("message", Text, nullable=False),
    Column("type", String(32), nullable=False),
    Column("data", JSON, nullable=False),
    Column("source", String(16), nullable=False),
    UniqueConstraint("job_id", "id"),
    Index("ix_events_job_seq", "job_id", "seq"),
)
Table(
    "fine_tuning_job_checkpoints",
    METADATA,
    _seq(),
    Column("id", String(64), nullable=False, unique=True),
    Column(
        "job_id",
        String(64),
        ForeignKey("fine_tuning_jobs.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", BigInteger, nullable=False),
    Column("step_number", Integer, nullable=False),
    Column("fine_tuned_model_checkpoint", Text, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("path", Text, nullable=False),
    UniqueConstraint("job_id", "step_number"),
)
Table(
    "models",
    METADATA,
    _seq(),
    Column("id", String(512), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("path", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("owned_by", String(64), nullable=False),
    Column("job_id", String(64), index=True),
)
Table(
    "evals",
    METADATA,
    _seq(),
    Column("id", String(64), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("metadata", JSON),
    Column("data_source_config", JSON, nullable=False),
    Column("testing_criteria", JSON, nullable=False),
)
Table(
    "eval_runs",
    METADATA,
    _seq(),
    Column("id", String(64), nullable=False, unique=True),
    Column("eval_id", String(64), ForeignKey("evals.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("model", Text),
    Column("data_source", JSON, nullable=False),
    Column("metadata", JSON),
    Column("result_counts", JSON, nullable=False),
    Column("per_model_usage", JSON),
    Column("per_testing_criteria_results", JSON),
    Column("error", JSON),
    Column("job_id", String(64)),
    *_queue_columns(),
)
Table(
    "eval_output_items",
    METADATA,
    _seq(),
    Column("id", String(64), nullable=False, unique=True),
    Column("run_id", String(64), ForeignKey("eval_runs.id", ondelete="CASCADE"), nullable=False),
    Column("eval_id", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("datasource_item_id", Integer, nullable=False),
    Column("datasource_item", JSON, nullable=False),
    Column("results", JSON, nullable=False),
    Column("sample", JSON),
    UniqueConstraint("run_id", "datasource_item_id"),
    Index("ix_output_items_run_seq", "run_id", "seq"),
)
Table(
    "saved_graders",
    METADATA,
    _seq(),
    Column("id", String(64), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("grader", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)


def upgrade(connection: Connection) -> None:
    METADATA.create_all(connection)
