"""The server's store: a database (SQLite by default, PostgreSQL), uploaded files, work queues.

>>> from openrft.store import Store, JobRow
>>> store = Store("~/.local/share/openrft")                  # or Store(dir, "postgresql://…")
>>> job_id = store.jobs.claim("worker-1", lease_seconds=60)  # exactly once across processes

Tables mirror OpenAI's resources (files, fine-tuning jobs with events and checkpoints, evals,
eval runs and output items, models, saved graders), each owned by a project, plus the
projects' API keys (stored hashed, ``store.keys``). A job is claimed by one worker, held by
heartbeats, and taken back when its worker stops heartbeating (see ``_queue.py``). The store
owns the statuses (:class:`JobStatus`, :class:`RunStatus`: OpenAI's spellings) and the schema:
a new database gets the current tables, an older one is upgraded by ``migrations/``.
"""

from openrft.store._db import Database, normalize_url, sqlite_url
from openrft.store._errors import ConflictError, InsufficientStorageError, NotFoundError, PayloadTooLargeError
from openrft.store._files import FILE_PREFIX, FileStore, Upload
from openrft.store._ids import is_valid_id, new_id
from openrft.store._keys import KEY_PREFIX, KeyStore, check_project_name
from openrft.store._queue import Reaped, WorkQueue
from openrft.store._status import (
    FINISHED_JOB_STATUSES,
    LIVE_JOB_STATUSES,
    LIVE_RUN_STATUSES,
    JobStatus,
    OutputItemStatus,
    QueueStatuses,
    RunStatus,
)
from openrft.store._store import Store, default_data_dir, now
from openrft.store._tables import (
    DEFAULT_PROJECT,
    ApiKeyRow,
    CheckpointRow,
    EvalRow,
    EvalRunRow,
    FileRow,
    JobEventRow,
    JobRow,
    ModelRow,
    OutputItemRow,
    ResponseRow,
    SavedGraderRow,
)
from openrft.store.migrations import LATEST as SCHEMA_VERSION

__all__ = [
    "DEFAULT_PROJECT",
    "FILE_PREFIX",
    "FINISHED_JOB_STATUSES",
    "KEY_PREFIX",
    "LIVE_JOB_STATUSES",
    "LIVE_RUN_STATUSES",
    "SCHEMA_VERSION",
    "ApiKeyRow",
    "CheckpointRow",
    "ConflictError",
    "Database",
    "EvalRow",
    "EvalRunRow",
    "FileRow",
    "FileStore",
    "InsufficientStorageError",
    "JobEventRow",
    "JobRow",
    "JobStatus",
    "KeyStore",
    "ModelRow",
    "NotFoundError",
    "OutputItemRow",
    "OutputItemStatus",
    "PayloadTooLargeError",
    "QueueStatuses",
    "Reaped",
    "ResponseRow",
    "RunStatus",
    "SavedGraderRow",
    "Store",
    "Upload",
    "WorkQueue",
    "check_project_name",
    "default_data_dir",
    "is_valid_id",
    "new_id",
    "normalize_url",
    "now",
    "sqlite_url",
]
