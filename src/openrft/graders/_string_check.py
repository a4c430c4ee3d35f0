"""``string_check``: exact or substring comparison, reward 0 or 1 (reference §2.1)."""

from __future__ import annotations

from typing import Any

from openrft.graders._results import Grade
from openrft.graders._schema import StringCheckGrader
from openrft.graders._template import render


def check_strings(operation: str, text: str, reference: str) -> bool:
    """eq / ne (or neq) compare exactly; like / ilike test that ``text`` contains ``reference``.

    like and ilike are plain substring tests: OpenAI documents no SQL wildcards.
    """
    if operation == "eq":
        return text == reference
    if operation in ("ne", "neq"):
        return text != reference
    if operation == "like":
        return reference in text
    if operation == "ilike":
        return reference.casefold() in text.casefold()
    raise ValueError(f"unknown string_check operation {operation!r}")


def grade_string_check(grader: StringCheckGrader, sample: dict[str, Any], item: dict[str, Any]) -> Grade:
    text = render(grader.input, sample=sample, item=item)
    reference = render(grader.reference, sample=sample, item=item)
    return Grade(reward=1.0 if check_strings(grader.operation, text, reference) else 0.0)
