"""The server's store: a database (SQLite by default, PostgreSQL), uploaded files, work queues.

>>> from openrft.store import Store, JobRow
>>> store = Store("~/.local/share/openrft")                  # or Store(dir, "postgresql://…")
>>> job_id = store.jobs.claim("worker-1", lease_seconds=60)  # exactly once across processes

Tables mirror OpenAI's resources (files, fine-tuning jobs with events and checkpoints, evals,
eval runs and output items, models, saved graders). A job is claimed by one worker, held by
heartbeats, and taken back when its worker stops heartbeating (see ``_queue.py``).
"""

from openrft.store._db import Database, normalize_url, sqlite_url
from openrft.store._errors import ConflictError, NotFoundError, PayloadTooLargeError
from openrft.store._files import FILE_PREFIX, FileStore
from openrft.store._ids import is_valid_id, new_id
from openrft.store._queue import Reaped, WorkQueue
from openrft.store._store import Store, default_data_dir, now
from openrft.store._tables import (
    SCHEMA_VERSION,
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

__all__ = [
    "FILE_PREFIX",
    "SCHEMA_VERSION",
    "CheckpointRow",
    "ConflictError",
    "Database",
    "EvalRow",
    "EvalRunRow",
    "FileRow",
    "FileStore",
    "JobEventRow",
    "JobRow",
    "ModelRow",
    "NotFoundError",
    "OutputItemRow",
    "PayloadTooLargeError",
    "Reaped",
    "SavedGraderRow",
    "Store",
    "WorkQueue",
    "default_data_dir",
    "is_valid_id",
    "new_id",
    "normalize_url",
    "now",
    "sqlite_url",
]
