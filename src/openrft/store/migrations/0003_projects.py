"""Projects: API keys stored hashed, and an owner project on every resource.

Rows written before projects existed belong to the ``default`` project (the project of the
keys in ``OPENRFT_API_KEYS``); fine-tuned models and checkpoints go with their job, base
models stay offered to every project (no owner).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
)

DEFAULT_PROJECT = "default"
OWNED = ("files", "fine_tuning_jobs", "evals", "eval_runs", "saved_graders")
"""Tables whose every row has an owner project."""

Seq = BigInteger().with_variant(Integer(), "sqlite")


def _api_keys(metadata: MetaData) -> Table:
    return Table(
        "api_keys",
        metadata,
        Column("seq", Seq, primary_key=True, autoincrement=True),
        Column("id", String(64), nullable=False, unique=True),
        Column("project", String(64), nullable=False, index=True),
        Column("admin", Boolean, nullable=False, server_default=false()),
        Column("name", Text),
        Column("salt", String(64), nullable=False),
        Column("digest", String(64), nullable=False),
        Column("redacted", String(64), nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("revoked_at", BigInteger),
    )


def upgrade(connection: Connection) -> None:
    metadata = MetaData()
    _api_keys(metadata).create(connection)
    for table in OWNED:
        connection.execute(
            text(f"ALTER TABLE {table} ADD COLUMN project VARCHAR(64) DEFAULT '{DEFAULT_PROJECT}' NOT NULL")
        )
        owned = Table(table, metadata, Column("project", String(64)), extend_existing=True)
        Index(f"ix_{table}_project", owned.c.project).create(connection)
    connection.execute(text("ALTER TABLE models ADD COLUMN project VARCHAR(64)"))
    connection.execute(text(f"UPDATE models SET project = '{DEFAULT_PROJECT}' WHERE job_id IS NOT NULL"))
    models = Table("models", metadata, Column("project", String(64)), extend_existing=True)
    Index("ix_models_project", models.c.project).create(connection)
