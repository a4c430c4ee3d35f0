"""Deep validation of a grader: structure, templates, the multi formula, python source."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from openrft.errors import GraderValidationError
from openrft.graders._formula import FormulaError, parse_formula
from openrft.graders._runtime import GraderRuntime
from openrft.graders._schema import (
    EvalItem,
    Grader,
    LabelModelGrader,
    MultiGrader,
    PythonGrader,
    ScoreModelGrader,
    parse_grader,
)
from openrft.graders._template import template_problems


def _message_texts(messages: list[EvalItem], prefix: str) -> Iterator[tuple[str, str]]:
    for i, message in enumerate(messages):
        contents = message.content if isinstance(message.content, list) else [message.content]
        for j, part in enumerate(contents):
            where = f"{prefix}input[{i}].content" + (f"[{j}]" if isinstance(message.content, list) else "")
            if isinstance(part, str):
                yield where, part
            elif hasattr(part, "text"):
                yield f"{where}.text", part.text
            elif hasattr(part, "image_url"):
                yield f"{where}.image_url", part.image_url
            else:
                yield f"{where}.input_audio.data", part.input_audio.data


def templated_fields(grader: Grader, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(field path, text) of every string in ``grader`` that may hold templates."""
    if isinstance(grader, MultiGrader):
        for key, sub in grader.graders.items():
            yield from templated_fields(sub, f"{prefix}graders.{key}.")
    elif isinstance(grader, ScoreModelGrader | LabelModelGrader):
        yield from _message_texts(grader.input, prefix)
    elif not isinstance(grader, PythonGrader):
        yield f"{prefix}input", grader.input
        yield f"{prefix}reference", grader.reference


def _python_graders(grader: Grader, prefix: str = "") -> Iterator[tuple[str, PythonGrader]]:
    if isinstance(grader, PythonGrader):
        yield prefix, grader
    elif isinstance(grader, MultiGrader):
        for key, sub in grader.graders.items():
            yield from _python_graders(sub, f"{prefix}graders.{key}.")


def validate_grader(
    data: Grader | dict[str, Any], *, runtime: GraderRuntime | None = None, check_source: bool = True
) -> Grader:
    """Parse ``data`` and check everything that can be checked without a sample.

    Raises :class:`~openrft.errors.GraderValidationError` with the field path in ``param``
    and in the message. With ``check_source``, python sources are loaded in the sandbox
    (a syntax error or a missing ``grade`` function is caught here, not at grading time).
    """
    grader = parse_grader(data)
    for path, text in templated_fields(grader):
        problems = template_problems(text)
        if problems:
            raise GraderValidationError(f"{path}: {problems[0]}", param=path)
    if isinstance(grader, MultiGrader):
        try:
            parse_formula(grader.calculate_output, frozenset(grader.graders))
        except FormulaError as exc:
            raise GraderValidationError(f"calculate_output: {exc}", param="calculate_output") from None
    pythons = list(_python_graders(grader)) if check_source else []
    if pythons:
        from openrft.graders._default import default_runtime
        from openrft.graders._python import check_python_source

        for prefix, python in pythons:
            try:
                check_python_source(python.source, runtime or default_runtime())
            except GraderValidationError as exc:
                raise GraderValidationError(f"{prefix}{exc.message}", param=f"{prefix}source") from None
    return grader
