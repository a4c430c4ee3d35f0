"""Work queues over the jobs and eval-runs tables: claim once, hold with a lease, hand back.

* **Claim** takes the oldest queued row and marks it as running for one worker, exactly once
  across processes and machines. PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED`` (concurrent
  claimers skip a row another one is taking) and the conditional update below. SQLite: the
  whole claim is one ``BEGIN IMMEDIATE`` transaction, writers run one at a time, and the
  update is conditional on ``status = 'queued'`` with its row count checked.
* **Heartbeat** extends the holder's lease. A worker that stops heartbeating (killed, machine
  gone) loses its work when the lease expires: :meth:`WorkQueue.reap` puts a running row back
  to queued, and the next claim resumes it (training resumes from its last checkpoint).
* **Transition** is the only way a status changes: one conditional update guarded by the
  statuses the caller expects, returning False when another process moved the row first.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update

from openrft.store._db import Database, rowcount
from openrft.store._status import QueueStatuses
from openrft.store._tables import EvalRunRow, JobRow


@dataclass(frozen=True)
class Reaped:
    """A row taken back from a worker whose lease expired."""

    id: str
    worker_id: str
    status: str
    """Its status afterwards: queued (will resume) or failed (out of attempts), or unchanged."""


class WorkQueue:
    """The queue over one table: :class:`JobRow` (``JOB_QUEUE``) or :class:`EvalRunRow` (``RUN_QUEUE``)."""

    def __init__(
        self,
        db: Database,
        table: type[JobRow] | type[EvalRunRow],
        statuses: QueueStatuses,
        *,
        max_attempts: int = 5,
    ):
        self.db = db
        self.table = table
        self.statuses = statuses
        self.running = statuses.running
        """The running status: ``running`` for jobs, ``in_progress`` for eval runs."""
        self.max_attempts = max_attempts

    def claim(self, worker_id: str, lease_seconds: float) -> str | None:
        """The id of the oldest queued row, now running and held by ``worker_id``; None if none."""
        t = self.table
        for _ in range(3):  # a row taken between our select and update (PostgreSQL): try the next
            now = time.time()
            with self.db.write() as session:
                query = (
                    select(t.id)
                    .where(
                        t.status == self.statuses.queued, or_(t.worker_id.is_(None), t.lease_expires_at < now)
                    )
                    .order_by(t.seq)
                    .limit(1)
                )
                if self.db.dialect == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                ident = session.execute(query).scalar_one_or_none()
                if ident is None:
                    return None
                result = session.execute(
                    update(t)
                    .where(t.id == ident, t.status == self.statuses.queued)
                    .values(
                        status=self.running,
                        worker_id=worker_id,
                        lease_expires_at=now + lease_seconds,
                        attempts=t.attempts + 1,
                    )
                )
                if rowcount(result) == 1:
                    return ident
        return None

    def heartbeat(self, ident: str, worker_id: str, lease_seconds: float) -> tuple[str, str | None] | None:
        """Extend the lease; returns (status, control) or None when ``worker_id`` no longer holds it."""
        t = self.table
        with self.db.write() as session:
            result = session.execute(
                update(t)
                .where(t.id == ident, t.worker_id == worker_id)
                .values(lease_expires_at=time.time() + lease_seconds)
            )
            if rowcount(result) != 1:
                return None
            row = session.execute(select(t.status, t.control).where(t.id == ident)).one()
            return row.status, row.control

    def transition(self, ident: str, expected: Collection[str], to: str, **values: Any) -> bool:
        """Move ``ident`` from one of ``expected`` to ``to`` (setting ``values``); False if it was not."""
        t = self.table
        with self.db.write() as session:
            result = session.execute(
                update(t).where(t.id == ident, t.status.in_(list(expected))).values(status=to, **values)
            )
            return rowcount(result) == 1

    def release(
        self, ident: str, worker_id: str, *, expected: Collection[str] | None = None, **values: Any
    ) -> bool:
        """Give the row back (no holder, no lease), setting ``values``; only if ``worker_id`` holds it.

        With ``expected``, only when the status is one of them (the new one goes in ``values``).
        """
        t = self.table
        query = update(t).where(t.id == ident, t.worker_id == worker_id)
        if expected is not None:
            query = query.where(t.status.in_(list(expected)))
        with self.db.write() as session:
            result = session.execute(query.values(worker_id=None, lease_expires_at=None, **values))
            return rowcount(result) == 1

    def reap(self) -> list[Reaped]:
        """Take back every row whose holder's lease expired: running rows are queued again
        (or failed after ``max_attempts`` starts); others just lose their holder."""
        t = self.table
        now = time.time()
        reaped: list[Reaped] = []
        with self.db.write() as session:
            rows = session.execute(
                select(t.id, t.worker_id, t.status, t.attempts).where(
                    t.worker_id.is_not(None), t.lease_expires_at < now
                )
            ).all()
            for row in rows:
                status, extra = row.status, {}
                if status == self.running:
                    out_of_attempts = row.attempts >= self.max_attempts
                    status = self.statuses.failed if out_of_attempts else self.statuses.queued
                if status == self.statuses.failed:
                    extra["error"] = {
                        "code": "worker_lost",
                        "message": f"the worker running it stopped responding {row.attempts} times; "
                        "giving up (see the events for each start)",
                        "param": None,
                    }
                result = session.execute(
                    update(t)
                    .where(t.id == row.id, t.worker_id == row.worker_id, t.lease_expires_at < now)
                    .values(status=status, worker_id=None, lease_expires_at=None, **extra)
                )
                if rowcount(result) == 1:
                    reaped.append(Reaped(row.id, row.worker_id, status))
        return reaped
