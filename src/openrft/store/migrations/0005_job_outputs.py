"""A job's estimated finish and metered usage (``estimated_finish``, ``usage_metrics``)."""

from __future__ import annotations

from sqlalchemy import Connection, text


def upgrade(connection: Connection) -> None:
    connection.execute(text("ALTER TABLE fine_tuning_jobs ADD COLUMN estimated_finish BIGINT"))
    connection.execute(text("ALTER TABLE fine_tuning_jobs ADD COLUMN usage_metrics JSON"))
