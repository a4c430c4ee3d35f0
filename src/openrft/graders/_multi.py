"""``multi``: grade with every sub-grader, then combine their rewards with ``calculate_output``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from openrft.graders._formula import FormulaError, evaluate_formula, parse_formula
from openrft.graders._results import Grade, GraderErrors, TokenUsage
from openrft.graders._schema import MultiGrader, SubGrader

GradeSub = Callable[[SubGrader], Awaitable[Grade]]


async def grade_multi(grader: MultiGrader, grade_sub: GradeSub) -> Grade:
    """Sub-graders run concurrently; one that fails contributes 0 and its error flags."""
    keys = list(grader.graders)
    subs = await asyncio.gather(*(grade_sub(grader.graders[key]) for key in keys))
    rewards = {key: sub.reward for key, sub in zip(keys, subs, strict=True)}
    result = Grade(errors=GraderErrors(), details={"sub_grades": dict(zip(keys, subs, strict=True))})
    for sub in subs:
        result.errors.merge(sub.errors)
        for model, usage in sub.usage_per_model.items():
            result.usage_per_model[model] = result.usage_per_model.get(model, TokenUsage()).add(usage)
        if sub.token_usage is not None:
            result.token_usage = (result.token_usage or TokenUsage()).add(sub.token_usage)
    result.sampled_model_name = next((s.sampled_model_name for s in subs if s.sampled_model_name), None)
    try:
        tree = parse_formula(grader.calculate_output, frozenset(keys))
    except FormulaError:
        result.errors.formula_parse_error = True
        return result
    try:
        result.reward = evaluate_formula(tree, rewards)
    except (ArithmeticError, ValueError) as exc:
        result.errors.other_error = True
        result.details["formula_error"] = f"{grader.calculate_output!r}: {exc}"
    return result
