"""Metrics of an eval's records: per model, per run, per criterion; readiness; comparisons.

Definitions (docs/evals.md):
- an item's score is the mean of its runs' combined scores (combined = mean of the criteria);
- ``std_across_runs`` is the standard deviation of the per-run means (how much a re-run moves
  the headline number); ``item_spread_mean`` is the mean over items of the std of their runs;
- the histogram counts answers (not items) in ten equal bins over [0, 1] (scores outside are
  clamped into the end bins).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from openrft.evals._criteria import Criterion
from openrft.evals._records import EvalRecord

BINS = 10
TIE_TOLERANCE = 0.01
"""Per-item mean scores closer than this count as a tie in comparisons."""
FLOOR, CEILING = 0.05, 0.95
"""An item at or below FLOOR (at or above CEILING) on average is floor (ceiling) saturated."""
WORST_ITEMS = 10


def _std(values: Sequence[float]) -> float:
    return statistics.pstdev(values) if len(values) > 1 else 0.0


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def histogram(scores: Sequence[float], bins: int = BINS) -> list[int]:
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, max(0, int(s * bins)))] += 1
    return counts


def _by_item(records: Sequence[EvalRecord]) -> dict[int, list[EvalRecord]]:
    items: dict[int, list[EvalRecord]] = defaultdict(list)
    for r in records:
        items[r.item_index].append(r)
    return items


def readiness(records: Sequence[EvalRecord]) -> dict[str, Any]:
    """Can GRPO learn from this task with this model and grader? Computed, with a verdict."""
    items = _by_item(records)
    runs = min((len(v) for v in items.values()), default=0)
    means = [statistics.fmean(r.score for r in v) for v in items.values()]
    same = [len({round(r.score, 9) for r in v}) == 1 for v in items.values()] if runs >= 2 else []
    references = [str(v[0].reference) for v in items.values() if v[0].reference is not None]
    top_share = Counter(references).most_common(1)[0][1] / len(references) if references else None
    out: dict[str, Any] = {
        "items": len(items),
        "runs_per_item": runs,
        "zero_variance_fraction": (sum(same) / len(same)) if same else None,
        "floor_fraction": sum(m <= FLOOR for m in means) / len(means) if means else None,
        "ceiling_fraction": sum(m >= CEILING for m in means) / len(means) if means else None,
        "mean_score": _mean(means),
        "label_skew": top_share,
        "distinct_labels": len(set(references)) if references else None,
    }
    out["ready"], out["verdict"] = _verdict(out)
    return out


def _verdict(r: dict[str, Any]) -> tuple[bool | None, str]:
    if not r["items"]:
        return None, "no records"
    floor, ceiling, zero = r["floor_fraction"], r["ceiling_fraction"], r["zero_variance_fraction"]
    if floor >= 0.9:
        return False, (
            f"not ready: {floor:.0%} of items score ≤ {FLOOR} on average; the task is too hard for "
            "this model or the grader is broken (check a few answers by hand)"
        )
    if ceiling >= 0.9:
        return False, f"not ready: {ceiling:.0%} of items already score ≥ {CEILING}; nothing left to learn"
    if zero is None:
        return None, "unknown: run at least 2 runs per item to measure the spread GRPO learns from"
    if zero >= 0.8:
        return False, (
            f"not ready: {zero:.0%} of items score the same on every run, so GRPO gets no signal "
            "from them (raise the temperature, or use a grader with partial credit)"
        )
    skew = r["label_skew"]
    if skew is not None and (r["distinct_labels"] or 0) > 1 and skew >= 0.5:
        return True, (
            f"ready with a warning: {1 - zero:.0%} of items have varied scores, but one reference "
            f"answer covers {skew:.0%} of items, which invites guessing it"
        )
    return True, f"ready: {1 - zero:.0%} of items have varied scores across runs"


def _model_summary(records: Sequence[EvalRecord], criteria: Sequence[Criterion]) -> dict[str, Any]:
    runs = sorted({r.run for r in records})
    per_run = []
    for run in runs:
        rs = [r for r in records if r.run == run]
        per_run.append(
            {
                "run": run,
                "mean": statistics.fmean(r.score for r in rs),
                "pass_rate": sum(r.passed_all for r in rs) / len(rs),
                **{f"{c.name}_mean": statistics.fmean(r.scores[c.name] for r in rs) for c in criteria},
            }
        )
    crit = {}
    for c in criteria:
        run_means = [p[f"{c.name}_mean"] for p in per_run]
        crit[c.name] = {
            "mean": statistics.fmean(r.scores[c.name] for r in records),
            "std_across_runs": _std(run_means),
            "pass_rate": sum(r.passed[c.name] for r in records) / len(records),
            "pass_threshold": c.pass_threshold,
        }
    errors: Counter[str] = Counter(flag for r in records for flags in r.errors.values() for flag in flags)
    items = _by_item(records)
    item_means = {i: statistics.fmean(r.score for r in v) for i, v in items.items()}
    worst = sorted(items, key=lambda i: (item_means[i], i))[:WORST_ITEMS]
    n = len(records)
    return {
        "records": n,
        "items": len(items),
        "runs": len(runs),
        "mean": statistics.fmean(r.score for r in records),
        "std_across_runs": _std([p["mean"] for p in per_run]),
        "item_spread_mean": statistics.fmean(_std([r.score for r in v]) for v in items.values()),
        "pass_rate": sum(r.passed_all for r in records) / n,
        "criteria": crit,
        "per_run": per_run,
        "errors": dict(sorted(errors.items())),
        "errored_records": sum(r.errored for r in records),
        "tokens": {
            "prompt_total": sum(r.prompt_tokens for r in records),
            "completion_total": sum(r.completion_tokens for r in records),
            "completion_mean": sum(r.completion_tokens for r in records) / n,
            "reasoning_mean": sum(r.reasoning_tokens for r in records) / n,
        },
        "truncated_fraction": sum(r.finish_reason == "length" for r in records) / n,
        "histogram": histogram([r.score for r in records]),
        "worst_items": [
            {
                "item_index": i,
                "line": items[i][0].line,
                "mean_score": item_means[i],
                "output": min(items[i], key=lambda r: r.score).output,
                "reference": items[i][0].reference,
            }
            for i in worst
        ],
        "readiness": readiness(records),
    }


def compare(base: Sequence[EvalRecord], other: Sequence[EvalRecord]) -> dict[str, Any]:
    """Per-item deltas of ``other`` against ``base`` on the items both have."""
    b = {i: statistics.fmean(r.score for r in v) for i, v in _by_item(base).items()}
    o = {i: statistics.fmean(r.score for r in v) for i, v in _by_item(other).items()}
    shared = sorted(set(b) & set(o))
    deltas = {i: o[i] - b[i] for i in shared}
    return {
        "items": len(shared),
        "mean_delta": _mean(list(deltas.values())),
        "win": sum(d > TIE_TOLERANCE for d in deltas.values()),
        "tie": sum(abs(d) <= TIE_TOLERANCE for d in deltas.values()),
        "loss": sum(d < -TIE_TOLERANCE for d in deltas.values()),
        "deltas": [{"item_index": i, "base": b[i], "other": o[i], "delta": deltas[i]} for i in shared],
    }


def summarize(records: Sequence[EvalRecord], criteria: Sequence[Criterion]) -> dict[str, Any]:
    """The summary of an eval: per model, and comparisons of every model against the first."""
    models: dict[str, list[EvalRecord]] = defaultdict(list)
    for r in records:
        models[r.model].append(r)
    out: dict[str, Any] = {
        "criteria": [
            {"name": c.name, "type": c.grader.type, "pass_threshold": c.pass_threshold} for c in criteria
        ],
        "models": {m: _model_summary(rs, criteria) for m, rs in models.items()},
    }
    names = list(models)
    if len(names) > 1:
        out["comparisons"] = [
            {"base": names[0], "other": m, **compare(models[names[0]], models[m])} for m in names[1:]
        ]
    return out
