"""The store: one database, the uploaded files, the work queues, under one data directory.

``DATA_DIR/openrft.db`` (SQLite, unless a PostgreSQL URL is given), ``DATA_DIR/files/``
(uploaded bytes), ``DATA_DIR/jobs/<job_id>/`` (a job's training folder: checkpoints,
events, metrics, rollouts) and ``DATA_DIR/runs/<run_id>/`` (an eval run's results file).
Several processes (the API, workers) open the same store; every write is one transaction.

Every resource belongs to a project (``project`` column). The named queries that list take
``project``: the project to list, or None for every project (what an admin key sees).
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Mapped

from openrft.errors import InvalidRequestError
from openrft.store._db import Database, rowcount, sqlite_url
from openrft.store._errors import NotFoundError
from openrft.store._files import FileStore
from openrft.store._keys import KeyStore
from openrft.store._queue import WorkQueue
from openrft.store._status import JOB_QUEUE, RUN_QUEUE, OutputItemStatus, RunStatus
from openrft.store._tables import (
    CheckpointRow,
    EvalRow,
    EvalRunRow,
    FileRow,
    JobEventRow,
    JobRow,
    ModelRow,
    OutputItemRow,
    SavedGraderRow,
)


class _Resource(Protocol):
    """What the generic access below needs of a table (every one but ``openrft_meta`` has it)."""

    __tablename__: str
    seq: ClassVar[Mapped[int]]
    id: ClassVar[Mapped[str]]


Row = TypeVar("Row", bound=_Resource)
Order = Literal["asc", "desc"]

NOUNS = {
    "files": "File object",
    "fine_tuning_jobs": "fine-tuning job",
    "fine_tuning_job_checkpoints": "checkpoint",
    "models": "model",
    "evals": "eval",
    "eval_runs": "eval run",
    "eval_output_items": "output item",
    "saved_graders": "saved grader",
    "responses": "response",
}


def _owned(table: Any, project: str | None) -> list[Any]:
    """The WHERE clause that keeps ``project``'s rows (nothing for None: every project's)."""
    return [] if project is None else [table.project == project]


def default_data_dir() -> Path:
    """``OPENRFT_DATA_DIR``, else ``$XDG_DATA_HOME/openrft`` (``~/.local/share/openrft``)."""
    explicit = os.environ.get("OPENRFT_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "openrft"


def now() -> int:
    return int(time.time())


class Store:
    """Open (creating if needed) the store in ``data_dir``; ``database_url`` overrides SQLite.

    Args:
        data_dir: files, job folders and (by default) the SQLite database live here.
        database_url: ``postgresql://user@host/db`` to share one database between machines.
        max_attempts: starts after which a job whose worker keeps dying is failed.
    """

    def __init__(self, data_dir: Path | str, database_url: str | None = None, *, max_attempts: int = 5):
        self.data_dir = Path(data_dir).expanduser()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(database_url or sqlite_url(self.data_dir))
        self.db.upgrade_schema()
        self.files = FileStore(self.data_dir / "files")
        self.jobs = WorkQueue(self.db, JobRow, JOB_QUEUE, max_attempts=max_attempts)
        self.runs = WorkQueue(self.db, EvalRunRow, RUN_QUEUE, max_attempts=max_attempts)
        self.keys = KeyStore(self.db)

    def close(self) -> None:
        self.db.close()

    # --- folders ---
    def job_dir(self, job_id: str) -> Path:
        return self.data_dir / "jobs" / job_id

    def run_dir(self, run_id: str) -> Path:
        return self.data_dir / "runs" / run_id

    # --- generic access ---
    def add(self, row: Row) -> Row:
        with self.db.write() as session:
            session.add(row)
        return row

    def get(self, table: type[Row], ident: str, *, param: str | None = None, **where: Any) -> Row:
        """The row with ``id == ident`` (and the ``where`` columns), else :class:`NotFoundError`."""
        query = select(table).where(table.id == ident)
        for column, value in where.items():
            query = query.where(getattr(table, column) == value)
        with self.db.read() as session:
            row = session.execute(query).scalar_one_or_none()
        if row is None:
            noun = NOUNS.get(table.__tablename__, table.__tablename__)
            raise NotFoundError(f"No {noun} found with id {ident!r}", param=param, code="not_found")
        return row

    def find(self, table: type[Row], ident: str) -> Row | None:
        with self.db.read() as session:
            return session.execute(select(table).where(table.id == ident)).scalar_one_or_none()

    def update(self, table: type[Row], ident: str, **values: Any) -> None:
        with self.db.write() as session:
            session.execute(update(table).where(table.id == ident).values(**values))

    def delete(self, table: type[Row], ident: str) -> bool:
        with self.db.write() as session:
            return rowcount(session.execute(delete(table).where(table.id == ident))) == 1

    def page(
        self,
        table: type[Row],
        *,
        after: str | None = None,
        limit: int = 20,
        order: Order = "desc",
        where: Sequence[Any] = (),
    ) -> tuple[list[Row], bool]:
        """One page of ``table`` in insertion order (``asc``) or newest first; returns (rows, has_more).

        ``after`` is the id of the last row of the previous page.
        """
        seq, ident = table.seq, table.id
        query = select(table).where(*where)
        with self.db.read() as session:
            if after:
                anchor = session.execute(select(seq).where(ident == after, *where)).scalar_one_or_none()
                if anchor is None:
                    raise InvalidRequestError(
                        f"after: no object with id {after!r} in this list", param="after"
                    )
                query = query.where(seq > anchor if order == "asc" else seq < anchor)
            query = query.order_by(seq.asc() if order == "asc" else seq.desc()).limit(limit + 1)
            rows = list(session.execute(query).scalars())
        return rows[:limit], len(rows) > limit

    def ids(self, table: type[Row]) -> set[str]:
        with self.db.read() as session:
            return set(session.execute(select(table.id)).scalars())

    def _all(self, query: Any) -> list[Any]:
        with self.db.read() as session:
            return list(session.execute(query).scalars())

    # --- files ---
    def sweep_files(self, *, older_than: float = 60.0) -> int:
        """Remove uploaded bytes left without a row (an upload killed half-way)."""
        return self.files.sweep(lambda: self.ids(FileRow), older_than=older_than)

    def files_page(
        self, *, project: str | None, purpose: str | None, after: str | None, limit: int, order: Order
    ) -> tuple[list[FileRow], bool]:
        where = _owned(FileRow, project) + ([FileRow.purpose == purpose] if purpose else [])
        return self.page(FileRow, after=after, limit=limit, order=order, where=where)

    # --- jobs ---
    def jobs_page(
        self,
        *,
        project: str | None,
        after: str | None,
        limit: int,
        metadata: Mapping[str, str] | None = None,
    ) -> tuple[list[JobRow], bool]:
        """Jobs newest first; with ``metadata``, only those whose metadata has every pair."""
        where = _owned(JobRow, project)
        if not metadata:
            return self.page(JobRow, after=after, limit=limit, where=where)
        # Metadata lives in a JSON column (no portable query): filter here, job lists are short.
        rows = self._all(select(JobRow).where(*where).order_by(JobRow.seq.desc()))
        matching = [r for r in rows if all((r.job_metadata or {}).get(k) == v for k, v in metadata.items())]
        return _slice_after(matching, after, limit, "job")

    def set_job_progress(self, job_id: str, step: int | None, total_steps: int | None) -> None:
        self.update(JobRow, job_id, step=step, total_steps=total_steps)

    def job_events_page(
        self, job_id: str, *, after: str | None, limit: int
    ) -> tuple[list[JobEventRow], bool]:
        """A job's events, newest first."""
        return self.page(JobEventRow, after=after, limit=limit, where=[JobEventRow.job_id == job_id])

    def checkpoints_page(
        self, job_id: str, *, after: str | None, limit: int
    ) -> tuple[list[CheckpointRow], bool]:
        """A job's checkpoints, newest first."""
        return self.page(CheckpointRow, after=after, limit=limit, where=[CheckpointRow.job_id == job_id])

    def checkpoints_of(self, job_ids: Collection[str]) -> list[CheckpointRow]:
        """Every checkpoint of these jobs (one query for a page of jobs)."""
        return self._all(select(CheckpointRow).where(CheckpointRow.job_id.in_(list(job_ids))))

    def checkpoint_steps(self, job_id: str) -> set[int]:
        """The steps at which ``job_id`` has a recorded checkpoint."""
        return set(self._all(select(CheckpointRow.step_number).where(CheckpointRow.job_id == job_id)))

    def latest_checkpoint(self, job_id: str) -> CheckpointRow | None:
        """The checkpoint of ``job_id`` recorded last."""
        query = select(CheckpointRow).where(CheckpointRow.job_id == job_id).order_by(CheckpointRow.seq.desc())
        rows = self._all(query.limit(1))
        return rows[0] if rows else None

    # --- evals, runs, output items ---
    def evals_page(
        self,
        *,
        project: str | None,
        after: str | None,
        limit: int,
        order: Order,
        order_by: Literal["created_at", "updated_at"],
    ) -> tuple[list[EvalRow], bool]:
        where = _owned(EvalRow, project)
        if order_by == "created_at":
            return self.page(EvalRow, after=after, limit=limit, order=order, where=where)
        keys = (EvalRow.updated_at, EvalRow.seq)
        ordered = (k.desc() if order == "desc" else k.asc() for k in keys)
        rows = self._all(select(EvalRow).where(*where).order_by(*ordered))
        return _slice_after(rows, after, limit, "eval")

    def runs_page(
        self, eval_id: str, *, after: str | None, limit: int, order: Order, status: RunStatus | None
    ) -> tuple[list[EvalRunRow], bool]:
        where = [EvalRunRow.eval_id == eval_id] + ([EvalRunRow.status == status] if status else [])
        return self.page(EvalRunRow, after=after, limit=limit, order=order, where=where)

    def job_runs(self, job_id: str) -> list[EvalRunRow]:
        """The eval runs a fine-tuning job recorded (its validations)."""
        return self._all(
            select(EvalRunRow).where(EvalRunRow.job_id == job_id).order_by(EvalRunRow.seq.desc())
        )

    def output_items_page(
        self, run_id: str, *, after: str | None, limit: int, order: Order, status: OutputItemStatus | None
    ) -> tuple[list[OutputItemRow], bool]:
        where = [OutputItemRow.run_id == run_id] + ([OutputItemRow.status == status] if status else [])
        return self.page(OutputItemRow, after=after, limit=limit, order=order, where=where)

    def output_item_indexes(self, run_id: str) -> set[int]:
        """The rows (``datasource_item_id``) of ``run_id`` that already have an output item."""
        query = select(OutputItemRow.datasource_item_id).where(OutputItemRow.run_id == run_id)
        return set(self._all(query))

    # --- saved graders ---
    def graders_page(
        self, *, project: str | None, after: str | None, limit: int, order: Order
    ) -> tuple[list[SavedGraderRow], bool]:
        where = _owned(SavedGraderRow, project)
        return self.page(SavedGraderRow, after=after, limit=limit, order=order, where=where)

    # --- job events ---
    def add_job_events(self, job_id: str, events: Sequence[dict[str, Any]], *, source: str = "server") -> int:
        """Insert events (OpenAI's event objects) not yet stored, by id; returns how many were new."""
        if not events:
            return 0
        with self.db.write() as session:
            known = set(
                session.execute(
                    select(JobEventRow.id).where(
                        JobEventRow.job_id == job_id, JobEventRow.id.in_([e["id"] for e in events])
                    )
                ).scalars()
            )
            fresh = [e for e in events if e["id"] not in known]
            session.add_all(
                JobEventRow(
                    id=e["id"],
                    job_id=job_id,
                    created_at=int(e.get("created_at") or now()),
                    level=e.get("level") or "info",
                    message=e.get("message") or "",
                    type=e.get("type") or "message",
                    data=e.get("data"),
                    source=source,
                )
                for e in fresh
            )
        return len(fresh)

    def drop_job_events(self, job_id: str, *, source: str, keep: set[str]) -> int:
        """Delete the ``source`` events of a job whose ids are not in ``keep`` (a resumed job's rewind)."""
        with self.db.write() as session:
            result = session.execute(
                delete(JobEventRow).where(
                    JobEventRow.job_id == job_id, JobEventRow.source == source, JobEventRow.id.not_in(keep)
                )
            )
            return rowcount(result)

    # --- checkpoints and models ---
    def put_checkpoint(self, row: CheckpointRow, model: ModelRow) -> None:
        """Record a checkpoint and the model name that samples from it (replacing one at the same step)."""
        with self.db.write() as session:
            session.execute(
                delete(CheckpointRow).where(
                    CheckpointRow.job_id == row.job_id, CheckpointRow.step_number == row.step_number
                )
            )
            session.execute(delete(ModelRow).where(ModelRow.id == model.id))
            session.add_all([row, model])

    def drop_checkpoints(self, job_id: str, keep_steps: set[int]) -> None:
        """Forget a job's checkpoints (and their model names) at steps not in ``keep_steps``."""
        with self.db.write() as session:
            gone = session.execute(
                select(CheckpointRow.fine_tuned_model_checkpoint).where(
                    CheckpointRow.job_id == job_id, CheckpointRow.step_number.not_in(keep_steps)
                )
            ).scalars()
            names = list(gone)
            session.execute(delete(ModelRow).where(ModelRow.id.in_(names)))
            session.execute(
                delete(CheckpointRow).where(
                    CheckpointRow.job_id == job_id, CheckpointRow.step_number.not_in(keep_steps)
                )
            )

    def put_model(self, model: ModelRow) -> None:
        with self.db.write() as session:
            session.execute(delete(ModelRow).where(ModelRow.id == model.id))
            session.add(model)

    def models(self, project: str | None) -> list[ModelRow]:
        """The models ``project`` may use: base models (no owner) and its own; None: every model."""
        query = select(ModelRow).order_by(ModelRow.seq)
        if project is not None:
            query = query.where(or_(ModelRow.project.is_(None), ModelRow.project == project))
        return self._all(query)

    def delete_model(self, name: str) -> None:
        """Forget the model ``name`` (and, for a checkpoint's name, that checkpoint)."""
        with self.db.write() as session:
            session.execute(delete(ModelRow).where(ModelRow.id == name))
            session.execute(delete(CheckpointRow).where(CheckpointRow.fine_tuned_model_checkpoint == name))

    def model_paths(self) -> set[str]:
        """Every path a model name opens (what deleting one model's files must leave alone)."""
        with self.db.read() as session:
            return set(session.execute(select(ModelRow.path)).scalars())

    def find_model(self, name: str, project: str | None) -> ModelRow | None:
        """The model ``name`` if ``project`` may use it (None: any project's), else None."""
        row = self.find(ModelRow, name)
        if row is None or project is None or row.project in (None, project):
            return row
        return None


def _slice_after(rows: list[Row], after: str | None, limit: int, noun: str) -> tuple[list[Row], bool]:
    """The page of ``rows`` (already filtered and ordered) that follows the row ``after``."""
    if after:
        ids = [r.id for r in rows]
        if after not in ids:
            raise InvalidRequestError(f"after: no {noun} with id {after!r} in this list", param="after")
        rows = rows[ids.index(after) + 1 :]
    return rows[:limit], len(rows) > limit
