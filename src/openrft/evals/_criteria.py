"""Testing criteria: a named grader with the rule that turns its score into pass or fail.

Each grader type owns its score range and pass rule (:class:`openrft.graders.GraderModel`:
``score_range()``, ``threshold()``); a criterion may override the threshold.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openrft.errors import InvalidRequestError
from openrft.graders import UNIT_RANGE, Grader, parse_grader


def score_range(grader: Grader) -> tuple[float, float] | None:
    """Deprecated: ``grader.score_range()``."""
    warnings.warn(
        "openrft.evals.score_range(grader) is deprecated and goes in openrft 0.2: use grader.score_range()",
        FutureWarning,
        stacklevel=2,
    )
    return grader.score_range()


def default_threshold(grader: Grader) -> float:
    """Deprecated: ``grader.threshold()``."""
    warnings.warn(
        "openrft.evals.default_threshold(grader) is deprecated and goes in openrft 0.2: "
        "use grader.threshold()",
        FutureWarning,
        stacklevel=2,
    )
    return grader.threshold()


@dataclass(frozen=True, init=False)
class Criterion:
    """One testing criterion: ``Criterion(name, grader, pass_threshold=None)``.

    ``grader`` may be wire JSON (a dict) or a parsed grader; it is parsed on construction.
    With no ``pass_threshold`` the grader's own rule applies (``grader.threshold()``).
    """

    name: str
    grader: Grader
    pass_threshold: float | None = None

    def __init__(
        self, name: str, grader: Grader | Mapping[str, Any], pass_threshold: float | None = None
    ) -> None:
        parsed = parse_grader(dict(grader) if isinstance(grader, Mapping) else grader)
        threshold = parsed.threshold() if pass_threshold is None else float(pass_threshold)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "grader", parsed)
        object.__setattr__(self, "pass_threshold", threshold)

    @property
    def threshold(self) -> float:
        assert self.pass_threshold is not None  # set in __init__
        return self.pass_threshold

    @property
    def range(self) -> tuple[float, float] | None:
        return self.grader.score_range()

    def passed(self, reward: float) -> bool:
        return reward >= self.threshold

    @property
    def sub_graders(self) -> dict[str, float]:
        """A ``multi`` grader's sub-graders and each one's pass threshold (empty for other types)."""
        return {name: sub.threshold() for name, sub in self.grader.sub_graders().items()}

    def all_sub_graders_passed(self, sub_rewards: Mapping[str, float]) -> bool:
        """Whether every sub-grader reached its threshold (a sub-grader with no reward did not)."""
        subs = self.sub_graders
        return bool(subs) and all(
            name in sub_rewards and sub_rewards[name] >= threshold for name, threshold in subs.items()
        )


def make_criterion(grader: Grader | Mapping[str, Any], pass_threshold: float | None = None) -> Criterion:
    """A criterion named after its grader (wire dict or parsed)."""
    parsed = parse_grader(dict(grader) if isinstance(grader, Mapping) else grader)
    return Criterion(parsed.name, parsed, pass_threshold)


def make_criteria(
    graders: Sequence[Grader | Mapping[str, Any]], pass_threshold: float | None = None
) -> list[Criterion]:
    """Criteria for several graders; names must be unique, since records are keyed by them."""
    criteria = [make_criterion(g, pass_threshold) for g in graders]
    check_criteria(criteria)
    return criteria


def check_criteria(criteria: Sequence[Criterion]) -> None:
    """At least one criterion, and no two with the same name."""
    if not criteria:
        raise InvalidRequestError("an eval needs at least one grader", param="testing_criteria")
    seen: set[str] = set()
    for criterion in criteria:
        if criterion.name in seen:
            raise InvalidRequestError(
                f"two testing criteria are named {criterion.name!r}: give each grader a distinct name",
                param="testing_criteria",
            )
        seen.add(criterion.name)


def combined_range(criteria: Sequence[Criterion]) -> tuple[float, float]:
    """The nominal range of the combined score (the mean of the criteria's ranges).

    A criterion of unknown range (python, multi) counts as [0, 1], OpenAI's nominal range;
    the histogram widens to cover any score outside it.
    """
    ranges = [c.range or UNIT_RANGE for c in criteria] or [UNIT_RANGE]
    return (sum(r[0] for r in ranges) / len(ranges), sum(r[1] for r in ranges) / len(ranges))
