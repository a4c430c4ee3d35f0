"""Status of the queued work, one enum per family, spelled as OpenAI spells it.

Fine-tuning jobs say ``cancelled`` and eval runs ``canceled`` (OpenAI's own spellings: the
SDK's ``FineTuningJob.status`` and ``RunListParams.status``); ``paused`` is the one status
OpenAI shows on jobs that its SDK type does not list. The values are the strings stored in the
database and sent on the wire, so a member compares equal to its string.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class JobStatus(StrEnum):
    """A fine-tuning job's ``status``."""

    VALIDATING_FILES = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PAUSED = "paused"


LIVE_JOB_STATUSES = frozenset(
    {JobStatus.VALIDATING_FILES, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.PAUSED}
)
"""A job in one of these can still be cancelled."""
FINISHED_JOB_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class RunStatus(StrEnum):
    """An eval run's ``status``."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELED = "canceled"
    FAILED = "failed"


LIVE_RUN_STATUSES = frozenset({RunStatus.QUEUED, RunStatus.IN_PROGRESS})
"""A run in one of these can still be canceled."""


class OutputItemStatus(StrEnum):
    """An eval run output item's ``status``: whether its row passed every criterion."""

    PASS = "pass"
    FAIL = "fail"


class QueueStatuses(NamedTuple):
    """The statuses a work queue moves its rows through (:class:`openrft.store.WorkQueue`)."""

    queued: str
    running: str
    failed: str
    stopped: frozenset[str]
    """What tells the executor holding the work to stop (cancelled by a user, or failed)."""


JOB_QUEUE = QueueStatuses(
    JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED, frozenset({JobStatus.CANCELLED, JobStatus.FAILED})
)
RUN_QUEUE = QueueStatuses(
    RunStatus.QUEUED,
    RunStatus.IN_PROGRESS,
    RunStatus.FAILED,
    frozenset({RunStatus.CANCELED, RunStatus.FAILED}),
)
