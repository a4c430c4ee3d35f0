"""Index the eval runs by fine-tuning job: a job's validation runs are looked up at every step."""

from __future__ import annotations

from sqlalchemy import Column, Connection, Index, MetaData, String, Table


def upgrade(connection: Connection) -> None:
    runs = Table("eval_runs", MetaData(), Column("job_id", String(64)))
    Index("ix_eval_runs_job_id", runs.c.job_id).create(connection)
