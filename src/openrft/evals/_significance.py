"""Is a difference between two models more than noise? Paired statistics over items.

Both models answered the same items; an item's score is the mean over its runs, and the test
is on the per-item differences (other − base):

- a **bootstrap confidence interval** for the mean difference: ``scipy.stats.bootstrap`` over
  the item pairs (``paired=True``), BCa, :data:`RESAMPLES` resamples from a fixed seed, so the
  same scores always give the same interval;
- the **Wilcoxon signed-rank test** (``scipy.stats.wilcoxon``, two-sided; items whose
  difference is 0 are left out) and the **sign test** (``scipy.stats.binomtest`` on wins
  against losses, ties left out), as p-values.

When the interval includes 0 the difference may be noise, and the verdict says so in words. A
difference is called real (``significant``) only when the interval excludes 0 *and* the
Wilcoxon p-value is below 1 − the confidence level: a few items that all moved the same way give
a point interval, but no test can be sure of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

CONFIDENCE = 0.95
RESAMPLES = 9999
SEED = 0
DECIMALS = 12
"""Differences are rounded to this many places first: means over runs carry float error, and a
difference of 1e-17 is no win."""


def _interval(
    base: Sequence[float], other: Sequence[float], confidence: float, seed: int
) -> tuple[float, float]:
    import numpy as np
    from scipy import stats

    deltas = np.round(np.asarray(other) - np.asarray(base), DECIMALS)
    if np.ptp(deltas) == 0:  # every item moved by the same amount: nothing to resample
        return float(deltas[0]), float(deltas[0])
    result = stats.bootstrap(
        (np.asarray(base, dtype=float), np.asarray(other, dtype=float)),
        lambda b, o, axis: np.mean(o - b, axis=axis),
        paired=True,
        vectorized=True,
        confidence_level=confidence,
        n_resamples=RESAMPLES,
        method="BCa",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return round(float(low), DECIMALS), round(float(high), DECIMALS)


def _wilcoxon(deltas: Sequence[float]) -> float:
    from scipy import stats

    if not any(deltas):
        return 1.0
    return float(stats.wilcoxon(deltas).pvalue)


def _sign_test(deltas: Sequence[float], tolerance: float) -> float:
    from scipy import stats

    wins = sum(d > tolerance for d in deltas)
    losses = sum(d < -tolerance for d in deltas)
    return float(stats.binomtest(wins, wins + losses).pvalue) if wins + losses else 1.0


def verdict(stats: dict[str, Any]) -> str:
    """One sentence on what the interval says."""
    share = f"{stats['confidence']:.0%}"
    if stats["ci_low"] is None:
        return f"too few items to tell ({stats['items']}); a confidence interval needs at least 2"
    if stats["ci_low"] == stats["ci_high"] == 0:
        return "no item scored differently"
    if stats["includes_zero"]:
        return f"the {share} interval includes 0: the difference may be noise"
    if not stats["significant"]:  # e.g. a handful of items that all moved the same way
        return (
            f"the {share} interval excludes 0 but the signed-rank test does not confirm it "
            f"(p {format_p(stats['wilcoxon_p'])}): too few items to be sure"
        )
    direction = "a gain" if stats["ci_low"] > 0 else "a loss"
    return f"the {share} interval excludes 0: {direction} beyond noise"


def paired_difference(
    base: Sequence[float],
    other: Sequence[float],
    *,
    tolerance: float = 0.0,
    confidence: float = CONFIDENCE,
    seed: int = SEED,
) -> dict[str, Any] | None:
    """Mean difference ``other − base`` over paired items, its interval and p-values.

    ``tolerance``: a difference within it is a tie for the sign test (as in win/tie/loss).
    Returns ``None`` without items; ``ci_low`` / ``ci_high`` / ``includes_zero`` are ``None``
    with a single item.
    """
    if len(base) != len(other):
        raise ValueError(f"paired scores need the same number of items ({len(base)} ≠ {len(other)})")
    if not base:
        return None
    deltas = [round(o - b, DECIMALS) for b, o in zip(base, other, strict=True)]
    n = len(deltas)
    low = high = None
    if n > 1:
        low, high = _interval(base, other, confidence, seed)
    stats: dict[str, Any] = {
        "items": n,
        "base_mean": math.fsum(base) / n,
        "other_mean": math.fsum(other) / n,
        "mean_delta": math.fsum(deltas) / n,
        "ci_low": low,
        "ci_high": high,
        "confidence": confidence,
        "includes_zero": None if low is None or high is None else bool(low <= 0 <= high),
        "wilcoxon_p": _wilcoxon(deltas) if n > 1 else None,
        "sign_test_p": _sign_test(deltas, tolerance),
    }
    # Beyond noise: the interval excludes 0 and the signed-rank test agrees at the same level.
    stats["significant"] = bool(
        low is not None and not stats["includes_zero"] and stats["wilcoxon_p"] < 1 - confidence
    )
    stats["verdict"] = verdict(stats)
    return stats


def format_p(p: float | None) -> str:
    if p is None:
        return "—"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.0e}"


def describe_difference(stats: dict[str, Any] | None) -> str:
    """One line: the mean difference, its interval, the p-values and the verdict in words."""
    if stats is None:
        return "no shared items"
    text = f"Δ {stats['mean_delta']:+.3f}"
    if stats["ci_low"] is not None:
        text += (
            f", {stats['confidence']:.0%} CI [{stats['ci_low']:+.3f}, {stats['ci_high']:+.3f}]"
            f", Wilcoxon p {format_p(stats['wilcoxon_p'])}, sign test p {format_p(stats['sign_test_p'])}"
        )
    return f"{text}: {stats['verdict']}"
