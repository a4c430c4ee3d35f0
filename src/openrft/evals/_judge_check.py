"""Evaluate the judge before trusting it: does a grader score great > fair > poor, every time?

Each case is an item with candidate answers labelled ``great``, ``fair`` and ``poor``. The
grader scores every candidate ``repeats`` times. A grader is flagged **unstable** when any
candidate's scores spread (max − min) by more than ``SPREAD_TOLERANCE`` of the grader's score
range across repeats (0.1 on [0, 1], 1 on a score_model range of [0, 10]), and **misordering**
when the mean scores break great ≥ fair ≥ poor (with great > poor) on more than
``MISORDER_TOLERANCE`` of the cases. Ties between neighbours are allowed because a pass/fail
grader (string_check, label_model) cannot tell fair from poor, and should not be flagged for it.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openrft.errors import InvalidRequestError
from openrft.graders import UNIT_RANGE, Grader, GraderRuntime, grade_batch_async, parse_grader

LABELS = ("great", "fair", "poor")
SPREAD_TOLERANCE = 0.1
MISORDER_TOLERANCE = 0.1


@dataclass(frozen=True)
class JudgeCase:
    item: dict[str, Any]
    candidates: dict[str, str]
    """Label → answer text (a subset of great / fair / poor, at least two)."""


def parse_case(data: Any, where: str) -> JudgeCase:
    """One line of a cases file: ``{"item", "great", "fair", "poor"}`` or ``{"item", "candidates"}``."""
    if not isinstance(data, Mapping):
        raise InvalidRequestError(f"{where}: a case is a JSON object")
    item = data.get("item", {})
    if not isinstance(item, Mapping):
        raise InvalidRequestError(f"{where}: 'item' must be an object")
    candidates: dict[str, str] = {}
    if "candidates" in data:
        for k, c in enumerate(data["candidates"] or []):
            if (
                not isinstance(c, Mapping)
                or c.get("label") not in LABELS
                or not isinstance(c.get("output"), str)
            ):
                raise InvalidRequestError(
                    f"{where}: candidates[{k}] needs 'label' (one of {', '.join(LABELS)}) "
                    "and a string 'output'"
                )
            candidates[c["label"]] = c["output"]
    else:
        for label in LABELS:
            if label in data:
                if not isinstance(data[label], str):
                    raise InvalidRequestError(f"{where}: '{label}' must be a string")
                candidates[label] = data[label]
    if len(candidates) < 2:
        raise InvalidRequestError(f"{where}: a case needs at least two of {', '.join(LABELS)}")
    return JudgeCase(item=dict(item), candidates=candidates)


def _ordered(means: Mapping[str, float]) -> bool:
    present = [means[label] for label in LABELS if label in means]
    return all(a >= b for a, b in itertools.pairwise(present)) and present[0] > present[-1]


async def check_judge(
    grader: Grader | Mapping[str, Any],
    cases: Sequence[JudgeCase],
    *,
    repeats: int = 3,
    runtime: GraderRuntime | None = None,
) -> dict[str, Any]:
    """Score every candidate ``repeats`` times; report spreads, orderings and the two flags.

    Grading errors are counted by flag (``errors``); an errored grade scores 0, as in training.
    """
    if repeats < 1:
        raise InvalidRequestError(f"repeats must be at least 1, not {repeats}", param="repeats")
    grader = parse_grader(dict(grader) if isinstance(grader, Mapping) else grader)
    pairs = [(text, case.item) for case in cases for text in case.candidates.values() for _ in range(repeats)]
    responses = iter(await grade_batch_async(grader, pairs, runtime=runtime))
    errors: Counter[str] = Counter()
    reports: list[dict[str, Any]] = []
    for index, case in enumerate(cases):
        per_label: dict[str, dict[str, Any]] = {}
        for label in case.candidates:
            graded = [next(responses) for _ in range(repeats)]
            errors.update(flag for g in graded for flag in g.errors.raised())
            scores = [g.reward for g in graded]
            per_label[label] = {
                "mean": statistics.fmean(scores),
                "spread": max(scores) - min(scores),
                "std": statistics.pstdev(scores),
                "scores": scores,
            }
        means = {label: s["mean"] for label, s in per_label.items()}
        reports.append({"case": index, "labels": per_label, "ordered": _ordered(means)})
    max_spread = max((s["spread"] for r in reports for s in r["labels"].values()), default=0.0)
    misordered = sum(not r["ordered"] for r in reports)
    low, high = grader.score_range() or UNIT_RANGE
    spread_tolerance = SPREAD_TOLERANCE * (high - low)
    unstable = max_spread > spread_tolerance
    misordering = bool(cases) and misordered / len(cases) > MISORDER_TOLERANCE
    return {
        "cases": reports,
        "repeats": repeats,
        "max_spread": max_spread,
        "spread_tolerance": spread_tolerance,
        "misorder_tolerance": MISORDER_TOLERANCE,
        "misordered_cases": misordered,
        "unstable": unstable,
        "misordering": misordering,
        "flagged": unstable or misordering,
        "errors": dict(errors),
    }
