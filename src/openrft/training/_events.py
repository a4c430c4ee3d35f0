"""The job's events as it runs: OpenAI's ``fine_tuning.job.event`` objects, recorded and forwarded.

:class:`EventLog` writes each event, step metrics, rollouts and validations into the job's
folder (:class:`~openrft.training.JobFolder`) and hands each event to an ``on_event`` listener
(the live view, the server's mirror into its store). In a multi-process job only the main
process writes; the others build the same events and drop them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from openrft.training._folder import JobFolder
from openrft.training._step_metrics import StepMetrics

Event = dict[str, Any]
OnEvent = Callable[[Event], None]


def make_event(message: str, *, level: str = "info", type: str = "message", data: Any = None) -> Event:
    return {
        "object": "fine_tuning.job.event",
        "id": f"ftevent-{secrets.token_hex(12)}",
        "created_at": int(time.time()),
        "level": level,
        "message": message,
        "type": type,
        "data": data,
    }


class EventLog:
    """Records events, metrics and rollouts in one job folder, and forwards each event."""

    def __init__(self, folder: JobFolder, on_event: OnEvent | None = None, *, writer: bool = True):
        self.folder = folder
        self.writer = writer
        if writer:
            folder.create()
        self._on_event = on_event

    def emit(self, message: str, *, level: str = "info", type: str = "message", data: Any = None) -> Event:
        event = make_event(message, level=level, type=type, data=data)
        if self.writer:
            self.folder.append_event(event)
            if self._on_event is not None:
                self._on_event(event)
        return event

    def metrics(self, metrics: StepMetrics, message: str) -> None:
        if self.writer:
            self.folder.append_metrics(metrics)
        self.emit(message, type="metrics", data=metrics.row())

    def rollouts(self, step: int, groups: list[dict[str, Any]]) -> None:
        if self.writer:
            self.folder.append_rollouts(step, groups)

    def validation(self, step: int, records: list[dict[str, Any]]) -> None:
        """Every answer of the validation at ``step`` (the server turns it into an eval run)."""
        if self.writer:
            self.folder.write_validation(step, records)

    def rewind(self, step: int) -> None:
        """Drop what was recorded for steps after ``step`` (a resumed job redoes them)."""
        if self.writer:
            self.folder.rewind(step)
