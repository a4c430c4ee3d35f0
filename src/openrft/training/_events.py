"""The job's record on disk, in its folder:

* ``events.jsonl``: OpenAI's ``fine_tuning.job.event`` objects (messages, warnings, metrics);
* ``metrics.jsonl``: the metrics events' ``data``, one line per step (reference §5.4);
* ``rollouts.jsonl``: one line per step, every prompt's group of completions with their
  rewards, sub-rewards, errors and advantages (for the dashboard's rollout inspector).

Lines are appended and fsynced one at a time, so a reader can follow a running job and a
killed job loses at most the line being written. A resumed job first drops every line of a
step after its checkpoint (:meth:`EventLog.rewind`), so each step is recorded exactly once.
In a multi-process job only the main process writes.
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


def append_line(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON line of ``path`` (a half-written last line from a kill is skipped)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` all at once (temporary file, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class EventLog:
    """Writes events, metrics and rollouts for one job folder, and forwards each event."""

    def __init__(self, out_dir: Path, on_event: OnEvent | None = None, *, writer: bool = True):
        self.writer = writer
        if writer:
            out_dir.mkdir(parents=True, exist_ok=True)
        self.events_path = out_dir / "events.jsonl"
        self.metrics_path = out_dir / "metrics.jsonl"
        self.rollouts_path = out_dir / "rollouts.jsonl"
        self.validation_dir = out_dir / "validation"
        self._on_event = on_event

    def emit(self, message: str, *, level: str = "info", type: str = "message", data: Any = None) -> Event:
        event = make_event(message, level=level, type=type, data=data)
        if self.writer:
            append_line(self.events_path, event)
            if self._on_event is not None:
                self._on_event(event)
        return event

    def metrics(self, data: dict[str, Any], message: str) -> None:
        if self.writer:
            append_line(self.metrics_path, data)
        self.emit(message, type="metrics", data=data)

    def rollouts(self, step: int, groups: list[dict[str, Any]]) -> None:
        if self.writer:
            append_line(self.rollouts_path, {"step": step, "groups": groups})

    def validation(self, step: int, records: list[dict[str, Any]]) -> None:
        """Every answer of the validation at ``step`` (evals-engine records), in one file.

        Written whole (a resumed job that redoes the step replaces it): the server turns it
        into an eval run of the job's eval.
        """
        if self.writer:
            self.validation_dir.mkdir(exist_ok=True)
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
            write_atomic(self.validation_dir / f"step-{step}.jsonl", text)

    def rewind(self, step: int) -> None:
        """Drop what was recorded for steps after ``step`` (a resumed job redoes them)."""
        if not self.writer:
            return
        for path, step_of in (
            (self.metrics_path, lambda r: r.get("step")),
            (self.rollouts_path, lambda r: r.get("step")),
            (self.events_path, lambda r: (r.get("data") or {}).get("step") if r.get("data") else None),
        ):
            if not path.exists():
                continue
            kept = [r for r in read_jsonl(path) if not isinstance(step_of(r), int) or step_of(r) <= step]
            write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))


def read_metrics(out_dir: Path) -> list[dict[str, Any]]:
    """The job's metrics, one dict per step, in order."""
    return read_jsonl(Path(out_dir) / "metrics.jsonl")
