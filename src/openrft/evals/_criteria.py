"""Testing criteria: a named grader with the rule that turns its score into pass or fail.

OpenAI's rules (reference §6.6): string_check passes on 1; label_model passes when the label
is one of ``passing_labels`` (our label_model reward is then 1); text_similarity, python and
score_model compare the score with ``pass_threshold`` (``>=``). Where OpenAI leaves the
default threshold unstated we use the middle of the grader's score range (0.5 for [0, 1]).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openrft.errors import InvalidRequestError
from openrft.graders import Grader, LabelModelGrader, ScoreModelGrader, StringCheckGrader, parse_grader


@dataclass(frozen=True)
class Criterion:
    """One testing criterion of an eval."""

    name: str
    grader: Grader
    pass_threshold: float

    def passed(self, reward: float) -> bool:
        return reward >= self.pass_threshold


def default_threshold(grader: Grader) -> float:
    """The pass threshold when none is given (see the module docstring)."""
    explicit = (grader.model_extra or {}).get("pass_threshold")
    if isinstance(explicit, int | float) and not isinstance(explicit, bool):
        return float(explicit)
    if isinstance(grader, StringCheckGrader | LabelModelGrader):
        return 1.0
    if isinstance(grader, ScoreModelGrader) and grader.range:
        low, high = grader.range
        return (low + high) / 2
    return 0.5


def make_criterion(grader: Grader | Mapping[str, Any], pass_threshold: float | None = None) -> Criterion:
    """A criterion from a grader (wire dict or parsed); the grader's own ``pass_threshold`` is kept."""
    parsed = parse_grader(dict(grader) if isinstance(grader, Mapping) else grader)
    threshold = default_threshold(parsed) if pass_threshold is None else float(pass_threshold)
    return Criterion(name=parsed.name, grader=parsed, pass_threshold=threshold)


def make_criteria(
    graders: Sequence[Grader | Mapping[str, Any]], pass_threshold: float | None = None
) -> list[Criterion]:
    """Criteria for several graders; names must be unique, since records are keyed by them."""
    criteria = [make_criterion(g, pass_threshold) for g in graders]
    seen: set[str] = set()
    for criterion in criteria:
        if criterion.name in seen:
            raise InvalidRequestError(
                f"two testing criteria are named {criterion.name!r}: give each grader a distinct name",
                param="testing_criteria",
            )
        seen.add(criterion.name)
    if not criteria:
        raise InvalidRequestError("an eval needs at least one grader", param="testing_criteria")
    return criteria
