"""The job's record on disk: ``events.jsonl`` (OpenAI's ``fine_tuning.job.event`` objects)
and ``metrics.jsonl`` (the metrics events' ``data``, one line per step).

Both are appended and flushed line by line, so a reader (the server, the dashboard) can
follow a running job, and a killed job loses at most the line being written.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    """Writes events and metrics for one job folder, and forwards each event to a callback."""

    def __init__(self, out_dir: Path, on_event: OnEvent | None = None):
        out_dir.mkdir(parents=True, exist_ok=True)
        self.events_path = out_dir / "events.jsonl"
        self.metrics_path = out_dir / "metrics.jsonl"
        self._on_event = on_event

    def _append(self, path: Path, record: dict[str, Any]) -> None:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def emit(self, message: str, *, level: str = "info", type: str = "message", data: Any = None) -> Event:
        event = make_event(message, level=level, type=type, data=data)
        self._append(self.events_path, event)
        if self._on_event is not None:
            self._on_event(event)
        return event

    def metrics(self, data: dict[str, Any], message: str) -> None:
        self._append(self.metrics_path, data)
        self.emit(message, type="metrics", data=data)

    def truncate_after(self, step: int) -> None:
        """Drop metrics of steps after ``step`` (a resumed job redoes them)."""
        if not self.metrics_path.exists():
            return
        kept = [
            line
            for line in self.metrics_path.read_text(encoding="utf-8").splitlines()
            if line.strip() and _step_of(line) is not None and _step_of(line) <= step  # type: ignore[operator]
        ]
        tmp = self.metrics_path.with_suffix(".tmp")
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(tmp, self.metrics_path)


def _step_of(line: str) -> int | None:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None  # a half-written line from a kill


def read_metrics(out_dir: Path) -> list[dict[str, Any]]:
    path = out_dir / "metrics.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
