"""One model against another on the items both answered: deltas, win/tie/loss, and whether it is real.

Scores are compared per item (the mean over runs), paired: overall (the combined score), per
criterion, per sub-grader of a ``multi`` criterion, and for a ``multi`` criterion the share of
answers where every sub-grader passed. Each gets a confidence interval and p-values
(:func:`paired_difference`).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from openrft.evals._criteria import Criterion
from openrft.evals._records import EvalRecord
from openrft.evals._significance import paired_difference

TIE_TOLERANCE = 0.01
"""Per-item mean scores closer than this share of the score range count as a tie."""

Score = Callable[[EvalRecord], float]


def by_item(records: Sequence[EvalRecord]) -> dict[int, list[EvalRecord]]:
    items: dict[int, list[EvalRecord]] = defaultdict(list)
    for r in records:
        items[r.item_index].append(r)
    return dict(sorted(items.items()))


def item_means(records: Sequence[EvalRecord], score: Score) -> dict[int, float]:
    """Each item's mean score over its runs."""
    return {i: statistics.fmean(score(r) for r in runs) for i, runs in by_item(records).items()}


def _paired(
    base: Sequence[EvalRecord], other: Sequence[EvalRecord], shared: list[int], score: Score, tolerance: float
) -> dict[str, Any] | None:
    b, o = item_means(base, score), item_means(other, score)
    return paired_difference([b[i] for i in shared], [o[i] for i in shared], tolerance=tolerance)


def _sub_reward(criterion: str, sub: str) -> Score:
    return lambda r: r.sub_rewards.get(criterion, {}).get(sub, 0.0)


def _criterion(
    base: Sequence[EvalRecord],
    other: Sequence[EvalRecord],
    shared: list[int],
    criterion: Criterion,
    tolerance: float,
) -> dict[str, Any]:
    name = criterion.name
    out: dict[str, Any] = _paired(base, other, shared, lambda r: r.scores.get(name, 0.0), tolerance) or {}
    subs = criterion.sub_graders
    if subs:
        out["sub_graders"] = {
            sub: _paired(base, other, shared, _sub_reward(name, sub), tolerance) for sub in subs
        }
        every_part = _paired(
            base,
            other,
            shared,
            lambda r: float(criterion.all_sub_graders_passed(r.sub_rewards.get(name, {}))),
            0.0,
        )
        out["all_sub_graders_passed"] = every_part
    return out


def compare(
    base: Sequence[EvalRecord],
    other: Sequence[EvalRecord],
    *,
    tolerance: float = TIE_TOLERANCE,
    criteria: Sequence[Criterion] = (),
) -> dict[str, Any]:
    """Per-item deltas of ``other`` against ``base`` on the items both have, and their significance.

    A delta within ``tolerance`` (absolute, in score units) is a tie. ``significance`` holds the
    interval and p-values of the combined score; ``criteria`` the same per criterion given.
    """
    b, o = item_means(base, lambda r: r.score), item_means(other, lambda r: r.score)
    shared = sorted(set(b) & set(o))
    deltas = {i: o[i] - b[i] for i in shared}
    return {
        "items": len(shared),
        "tie_tolerance": tolerance,
        "mean_delta": statistics.fmean(deltas.values()) if deltas else None,
        "win": sum(d > tolerance for d in deltas.values()),
        "tie": sum(abs(d) <= tolerance for d in deltas.values()),
        "loss": sum(d < -tolerance for d in deltas.values()),
        "significance": _paired(base, other, shared, lambda r: r.score, tolerance),
        "criteria": {c.name: _criterion(base, other, shared, c, tolerance) for c in criteria},
        "deltas": [{"item_index": i, "base": b[i], "other": o[i], "delta": deltas[i]} for i in shared],
    }
