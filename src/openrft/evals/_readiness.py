"""RFT readiness, computed: can GRPO learn from this task, with this model and these graders?

GRPO learns from the differences between answers to the same prompt, so an item whose runs
all score the same teaches nothing, and neither does a set the model always fails or always
solves. Rules and thresholds are documented in docs/evals.md; the verdict applies them in order.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from openrft.evals._records import EvalRecord

FLOOR_SHARE, CEILING_SHARE = 0.05, 0.95
"""An item whose mean score is within the bottom (top) 5% of the score range is saturated."""
SATURATED_SET = 0.9
"""Not ready when this share of the items sits at the floor (or at the ceiling)."""
NO_SIGNAL = 0.8
"""Not ready when this share of the items scores the same on every run."""
SKEW_SHARE, SKEW_OVER_UNIFORM = 0.5, 1.5
"""Warn when the most common reference answer covers at least half the items and at least
1.5 times its share under a uniform spread of the labels seen (so a balanced yes/no set passes)."""


def readiness(records: Sequence[EvalRecord], score_range: tuple[float, float] = (0.0, 1.0)) -> dict[str, Any]:
    """The readiness measures of one model's records, with ``ready`` and a one-line ``verdict``.

    ``ready`` is True, False, or None when it cannot be told (no records, or a single run).
    """
    items: dict[int, list[EvalRecord]] = defaultdict(list)
    for r in records:
        items[r.item_index].append(r)
    low, high = score_range
    floor, ceiling = low + FLOOR_SHARE * (high - low), low + CEILING_SHARE * (high - low)
    runs = min((len(v) for v in items.values()), default=0)
    means = [statistics.fmean(r.score for r in v) for v in items.values()]
    scores = [r.score for r in records]
    same = [len({round(r.score, 9) for r in v}) == 1 for v in items.values()] if runs >= 2 else []
    labels = [_label(v[0].reference) for v in items.values() if v[0].labelled]
    label_counts = Counter(labels)
    top_share = label_counts.most_common(1)[0][1] / len(labels) if labels else None
    set_mean = statistics.fmean(scores) if scores else None
    out: dict[str, Any] = {
        "items": len(items),
        "runs_per_item": runs,
        "floor": floor,
        "ceiling": ceiling,
        "zero_variance_fraction": sum(same) / len(same) if same else None,
        "floor_fraction": _share(m <= floor for m in means),
        "ceiling_fraction": _share(m >= ceiling for m in means),
        "answers_at_floor_fraction": _share(s <= floor for s in scores),
        "answers_at_ceiling_fraction": _share(s >= ceiling for s in scores),
        "set_mean": set_mean,
        "set_saturated": _saturation(set_mean, floor, ceiling),
        "label_skew": top_share,
        "distinct_labels": len(label_counts) if labels else None,
        "label_skew_warning": _skewed(top_share, len(label_counts), len(labels)),
    }
    out["ready"], out["verdict"] = _verdict(out)
    return out


def _label(reference: Any) -> str:
    return reference if isinstance(reference, str) else repr(reference)


def _saturation(mean: float | None, floor: float, ceiling: float) -> str | None:
    """Whether the whole set's mean sits at the ``floor`` or the ``ceiling`` (None: neither)."""
    if mean is None:
        return None
    return "floor" if mean <= floor else "ceiling" if mean >= ceiling else None


def _share(flags: Any) -> float | None:
    values = list(flags)
    return sum(values) / len(values) if values else None


def _skewed(top_share: float | None, distinct: int, labelled: int) -> bool:
    if top_share is None or labelled < 2:
        return False
    return top_share >= SKEW_SHARE and top_share >= min(1.0, SKEW_OVER_UNIFORM / distinct)


def _verdict(r: dict[str, Any]) -> tuple[bool | None, str]:
    if not r["items"]:
        return None, "unknown: no records"
    floor, ceiling, zero = r["floor_fraction"], r["ceiling_fraction"], r["zero_variance_fraction"]
    every_run = " on every run" if zero is not None else ""
    if floor >= SATURATED_SET:
        return False, (
            f"not ready: {floor:.0%} of items score at the floor (≤ {r['floor']:g}){every_run}; the task "
            "is too hard for this model or the grader is broken (read a few answers beside their references)"
        )
    if ceiling >= SATURATED_SET:
        return False, (
            f"not ready: {ceiling:.0%} of items already score at the ceiling (≥ {r['ceiling']:g}); "
            "there is little left to learn"
        )
    if zero is None:
        return None, "unknown: sample at least 2 runs per item to measure the spread GRPO learns from"
    if zero >= NO_SIGNAL:
        return False, (
            f"not ready: {zero:.0%} of items score the same on every run, so GRPO gets no signal from "
            "them (raise the temperature, or use a grader that gives partial credit)"
        )
    ready = f"{1 - zero:.0%} of items have varied scores across runs"
    if r["label_skew_warning"]:
        return True, (
            f"ready with a warning: {ready}, but one reference answer covers {r['label_skew']:.0%} "
            "of items, which rewards guessing it"
        )
    return True, f"ready: {ready}"
