"""A job's outputs, from its steps' metrics: the results CSV listed in ``result_files``, the
tokens it trained on, its metered usage and when it should finish.

The CSV starts with the columns of OpenAI's RFT results file (as a real one shows them:
``step, train_mean_reward, full_valid_mean_reward, completion_tokens_mean, pg_loss_sum,
total_loss_sum, entropy_loss_sum``), then openrft's. ``pg_loss_sum`` and ``entropy_loss_sum``
stay empty (TRL logs no such sums; its mean loss and entropy are in ``loss`` and ``entropy``),
and ``total_loss_sum`` is TRL's step loss.

``trained_tokens`` counts the completion tokens sampled and trained on (each step's samples ×
their mean length); ``estimated_finish`` is now plus the mean of the last few steps' measured
durations times the steps left.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Mapping
from typing import Any

from openrft.store import FILE_PREFIX, FileRow, JobRow, Store, new_id, now

OPENAI_COLUMNS = (
    "step",
    "train_mean_reward",
    "full_valid_mean_reward",
    "completion_tokens_mean",
    "pg_loss_sum",
    "total_loss_sum",
    "entropy_loss_sum",
)
OPENRFT_COLUMNS = (
    "samples",
    "grader_error_rate",
    "zero_variance_group_fraction",
    "truncated_fraction",
    "reasoning_tokens_mean",
    "loss",
    "entropy",
    "kl",
    "learning_rate",
    "step_seconds",
)
RECENT_STEPS = 5
"""Steps whose durations estimate the time left."""

Steps = Mapping[int, Mapping[str, Any]]
"""Step number → that step's metrics event ``data``."""


def _step_seconds(data: Mapping[str, Any]) -> float | None:
    timing = (data.get("timing") or {}).get("step") or {}
    value = timing.get("full_iteration")
    return float(value) if isinstance(value, int | float) else None


def _row(data: Mapping[str, Any]) -> list[Any]:
    trl = data.get("trl") or {}
    values = {
        **{key: data.get(key) for key in OPENAI_COLUMNS + OPENRFT_COLUMNS},
        "pg_loss_sum": None,
        "total_loss_sum": trl.get("loss"),
        "entropy_loss_sum": None,
        "loss": trl.get("loss"),
        "entropy": trl.get("entropy"),
        "kl": trl.get("kl"),
        "learning_rate": trl.get("learning_rate"),
        "step_seconds": _step_seconds(data),
    }
    return ["" if values[key] is None else values[key] for key in OPENAI_COLUMNS + OPENRFT_COLUMNS]


def results_csv(steps: Steps) -> bytes:
    """One row per step, in step order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OPENAI_COLUMNS + OPENRFT_COLUMNS)
    for step in sorted(steps):
        writer.writerow(_row(steps[step]))
    return out.getvalue().encode()


def trained_tokens(steps: Steps) -> int:
    return int(
        sum(
            float(d.get("samples") or 0) * float(d.get("completion_tokens_mean") or 0) for d in steps.values()
        )
    )


def usage_metrics(steps: Steps) -> dict[str, Any]:
    """What the job used (OpenAI bills RFT by training time, plus model graders' tokens)."""
    graders: dict[str, dict[str, int]] = {}
    for data in steps.values():
        for model, usage in (data.get("model_graders_token_usage") or {}).items():
            total = graders.setdefault(model, {"prompt_tokens": 0, "completion_tokens": 0})
            total["prompt_tokens"] += int(usage.get("train_prompt_tokens") or 0)
            total["completion_tokens"] += int(usage.get("train_completion_tokens") or 0)
    return {
        "steps": len(steps),
        "training_seconds": round(sum(_step_seconds(d) or 0.0 for d in steps.values()), 3),
        "trained_tokens": trained_tokens(steps),
        "model_graders_token_usage": graders,
    }


def estimated_finish(steps: Steps, at: float | None = None) -> int | None:
    """When the job should end at the pace of its last steps (None before a step is measured)."""
    if not steps:
        return None
    last = steps[max(steps)]
    total, step = last.get("total_steps"), last.get("step")
    durations = [s for s in (_step_seconds(steps[k]) for k in sorted(steps)[-RECENT_STEPS:]) if s is not None]
    if not durations or not isinstance(total, int) or not isinstance(step, int):
        return None
    left = max(total - step, 0) * sum(durations) / len(durations)
    return int((time.time() if at is None else at) + left)


def save_results(store: Store, job: JobRow, steps: Steps) -> str:
    """Store the results CSV as a ``fine-tune-results`` file of the job's project; its id."""
    file_id = new_id(FILE_PREFIX)
    size, digest = store.files.write(file_id, [results_csv(steps)], limit=1 << 30)
    store.add(
        FileRow(
            id=file_id,
            filename=f"{job.id}-results.csv",
            purpose="fine-tune-results",
            bytes=size,
            sha256=digest,
            created_at=now(),
            project=job.project,
        )
    )
    return file_id
