"""Metrics of an eval's records: per model, per run, per criterion; comparisons.

Definitions (docs/evals.md):
- a record's combined score is the mean of its criteria rewards; an item's score is the mean of
  its runs' combined scores;
- ``std_across_runs`` is the standard deviation of the per-run means (how far a re-run moves the
  headline number); ``item_spread_mean`` is the mean over items of the std of their runs;
- standard deviations are population ones (``statistics.pstdev``): every run and item is counted;
- the histogram counts answers (not items) in ``BINS`` equal bins over the score range: the
  nominal range of the criteria (see :func:`combined_range`), widened to any score outside it.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from openrft.evals._compare import TIE_TOLERANCE, by_item, compare
from openrft.evals._criteria import Criterion, combined_range
from openrft.evals._readiness import readiness
from openrft.evals._records import EvalRecord
from openrft.graders import ERROR_FLAGS

BINS = 10
WORST_ITEMS = 10


def std(values: Sequence[float]) -> float:
    return statistics.pstdev(values) if len(values) > 1 else 0.0


def histogram(scores: Sequence[float], low: float = 0.0, high: float = 1.0, bins: int = BINS) -> list[int]:
    """Counts in ``bins`` equal bins over [low, high]; the last bin is closed, outliers clamp."""
    counts = [0] * bins
    width = (high - low) or 1.0
    for s in scores:
        counts[min(bins - 1, max(0, int((s - low) / width * bins)))] += 1
    return counts


def score_bounds(records: Sequence[EvalRecord], criteria: Sequence[Criterion]) -> tuple[float, float]:
    """The criteria's nominal range of the combined score, widened to cover every record."""
    low, high = combined_range(criteria)
    scores = [r.score for r in records]
    return (min([low, *scores]), max([high, *scores]))


def _error_counts(records: Sequence[EvalRecord]) -> dict[str, int]:
    """Records raising each flag (any criterion), every flag listed so the shape is fixed."""
    raised: Counter[str] = Counter(
        flag for r in records for flag in {f for fs in r.errors.values() for f in fs}
    )
    return {flag: raised.get(flag, 0) for flag in ERROR_FLAGS}


def _run_summary(run: int, records: Sequence[EvalRecord], criteria: Sequence[Criterion]) -> dict[str, Any]:
    return {
        "run": run,
        "records": len(records),
        "mean": statistics.fmean(r.score for r in records),
        "pass_rate": sum(r.passed_all for r in records) / len(records),
        "criteria": {c.name: statistics.fmean(r.scores[c.name] for r in records) for c in criteria},
        "errored_records": sum(r.errored for r in records),
    }


def _sub_means(records: Sequence[EvalRecord], criterion: str) -> dict[str, float]:
    """Each sub-grader's mean score, for a multi grader (an answer it could not grade counts 0)."""
    names = {name: None for r in records for name in r.sub_rewards.get(criterion, {})}
    return {
        name: statistics.fmean(r.sub_rewards.get(criterion, {}).get(name, 0.0) for r in records)
        for name in names
    }


def _model_summary(
    records: Sequence[EvalRecord], criteria: Sequence[Criterion], bounds: tuple[float, float]
) -> dict[str, Any]:
    runs = sorted({r.run for r in records})
    per_run = [_run_summary(run, [r for r in records if r.run == run], criteria) for run in runs]
    items = by_item(records)
    crit = {}
    for c in criteria:
        crit[c.name] = {
            "mean": statistics.fmean(r.scores[c.name] for r in records),
            "std_across_runs": std([p["criteria"][c.name] for p in per_run]),
            "item_spread_mean": statistics.fmean(std([r.scores[c.name] for r in v]) for v in items.values()),
            "pass_rate": sum(r.passed[c.name] for r in records) / len(records),
            "pass_threshold": c.pass_threshold,
            "errored_records": sum(bool(r.errors.get(c.name)) for r in records),
            "sub_means": _sub_means(records, c.name),
        }
        if c.sub_graders:  # a multi grader: the share of answers with every part right
            crit[c.name]["all_sub_graders_pass_rate"] = sum(
                c.all_sub_graders_passed(r.sub_rewards.get(c.name, {})) for r in records
            ) / len(records)
    item_means = {i: statistics.fmean(r.score for r in v) for i, v in items.items()}
    worst = sorted(items, key=lambda i: (item_means[i], i))[:WORST_ITEMS]
    n = len(records)
    return {
        "records": n,
        "items": len(items),
        "runs": len(runs),
        "mean": statistics.fmean(r.score for r in records),
        "std_across_runs": std([p["mean"] for p in per_run]),
        "item_spread_mean": statistics.fmean(std([r.score for r in v]) for v in items.values()),
        "pass_rate": sum(r.passed_all for r in records) / n,
        "pass_at_runs": sum(any(r.passed_all for r in v) for v in items.values()) / len(items),
        "criteria": crit,
        "per_run": per_run,
        "errors": _error_counts(records),
        "errored_records": sum(r.errored for r in records),
        "tokens": {
            "prompt_total": sum(r.prompt_tokens for r in records),
            "prompt_mean": sum(r.prompt_tokens for r in records) / n,
            "completion_total": sum(r.completion_tokens for r in records),
            "completion_mean": sum(r.completion_tokens for r in records) / n,
            "reasoning_total": sum(r.reasoning_tokens for r in records),
            "reasoning_mean": sum(r.reasoning_tokens for r in records) / n,
        },
        "truncated_fraction": sum(r.finish_reason == "length" for r in records) / n,
        "histogram": histogram([r.score for r in records], *bounds),
        "worst_items": [_worst(items[i], item_means[i]) for i in worst],
        "readiness": readiness(records, bounds),
    }


def _worst(runs: Sequence[EvalRecord], mean_score: float) -> dict[str, Any]:
    worst = min(runs, key=lambda r: (r.score, r.run))
    return {
        "item_index": worst.item_index,
        "line": worst.line,
        "mean_score": mean_score,
        "run": worst.run,
        "score": worst.score,
        "prompt": worst.prompt,
        "output": worst.output,
        "reference": worst.reference,
    }


def summarize(records: Sequence[EvalRecord], criteria: Sequence[Criterion]) -> dict[str, Any]:
    """The summary of an eval: per model (in order of appearance), and every model against the first.

    Every model's histogram uses the same bins, so they overlay.
    """
    models: dict[str, list[EvalRecord]] = defaultdict(list)
    for r in records:
        models[r.model].append(r)
    low, high = score_bounds(records, criteria)
    out: dict[str, Any] = {
        "criteria": [
            {"name": c.name, "type": c.grader.type, "pass_threshold": c.pass_threshold, "range": c.range}
            for c in criteria
        ],
        "score_range": [low, high],
        "histogram_edges": [low + (high - low) * k / BINS for k in range(BINS + 1)],
        "models": {m: _model_summary(rs, criteria, (low, high)) for m, rs in models.items()},
    }
    names = list(models)
    tolerance = TIE_TOLERANCE * (high - low)
    out["comparisons"] = [
        {
            "base": names[0],
            "other": m,
            **compare(models[names[0]], models[m], tolerance=tolerance, criteria=criteria),
        }
        for m in names[1:]
    ]
    return out
