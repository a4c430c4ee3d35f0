"""What the API and the workers both say about a fine-tuning job: its events and its model names."""

from __future__ import annotations

import secrets
from typing import Any

from openrft.store import now


def job_event(message: str, *, level: str = "info", data: Any = None) -> dict[str, Any]:
    """A ``fine_tuning.job.event`` written by the server (queue and lifecycle)."""
    return {
        "object": "fine_tuning.job.event",
        "id": f"ftevent-{secrets.token_hex(12)}",
        "created_at": now(),
        "level": level,
        "message": message,
        "type": "message",
        "data": data,
    }


def fine_tuned_name(model: str, suffix: str | None, job_id: str) -> str:
    """``ft:<base>:<org>:<suffix>:<job>``, OpenAI's form (a path base is shortened to its last part)."""
    base = model.split(":")[1] if model.startswith("ft:") else model.rstrip("/").rsplit("/", 1)[-1]
    return f"ft:{base}:openrft:{suffix or ''}:{job_id.removeprefix('ftjob-')}"
