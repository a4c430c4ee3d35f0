"""Run a grader on one sample or on many: the single entry point evals and training use.

Grading never raises for a bad sample: every failure becomes an error flag in the result
and a reward of 0. Only a bad grader definition raises (``GraderValidationError``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from openrft.graders._default import default_runtime
from openrft.graders._multi import grade_multi
from openrft.graders._results import Grade, RunGraderResponse, to_response
from openrft.graders._runtime import GraderRuntime
from openrft.graders._sample import Sample, coerce_sample
from openrft.graders._schema import (
    Grader,
    LabelModelGrader,
    MultiGrader,
    PythonGrader,
    ScoreModelGrader,
    StringCheckGrader,
    SubGrader,
    TextSimilarityGrader,
    parse_grader,
)
from openrft.graders._string_check import grade_string_check
from openrft.graders._template import TemplateVariableError

log = logging.getLogger(__name__)

Pair = tuple[str | Sample, dict[str, Any] | None]
OnResult = Callable[[int, RunGraderResponse], None]


async def _dispatch(
    grader: SubGrader | MultiGrader, sample: Sample, item: dict[str, Any], rt: GraderRuntime
) -> Grade:
    if isinstance(grader, StringCheckGrader):
        return grade_string_check(grader, sample, item)
    if isinstance(grader, TextSimilarityGrader):
        from openrft.graders._text_similarity import grade_text_similarity

        return await grade_text_similarity(grader, sample, item, rt)
    if isinstance(grader, ScoreModelGrader | LabelModelGrader):
        from openrft.graders._model_graders import grade_label_model, grade_score_model

        if isinstance(grader, ScoreModelGrader):
            return await grade_score_model(grader, sample, item, rt)
        return await grade_label_model(grader, sample, item, rt)
    if isinstance(grader, PythonGrader):
        from openrft.graders._python import grade_python

        return await grade_python(grader, sample, item, rt)
    return await grade_multi(grader, lambda sub: grade_once(sub, sample, item, rt))


async def grade_once(grader: Grader, sample: Sample, item: dict[str, Any], rt: GraderRuntime) -> Grade:
    """One grader on one sample, with template and unexpected failures recorded as flags."""
    try:
        return await _dispatch(grader, sample, item, rt)
    except TemplateVariableError as exc:
        grade = Grade.failed(exc.flag)
        grade.details["template_error"] = str(exc)
        return grade
    except Exception as exc:  # a bug or an environment failure: recorded, never raised
        log.warning("grader %r failed unexpectedly: %s", grader.name, exc)
        grade = Grade.failed("other_error")
        grade.details["error"] = "".join(traceback.format_exception_only(exc)).strip()
        return grade


async def run_grader_async(
    grader: Grader | dict[str, Any],
    sample: str | Sample,
    item: dict[str, Any] | None = None,
    *,
    runtime: GraderRuntime | None = None,
) -> RunGraderResponse:
    """Grade one sample; ``sample`` is the model's answer text or a sample dict."""
    parsed = parse_grader(grader)
    started = time.perf_counter()
    grade = await grade_once(parsed, coerce_sample(sample), item or {}, runtime or default_runtime())
    return to_response(parsed, grade, time.perf_counter() - started)


def run_grader(
    grader: Grader | dict[str, Any],
    sample: str | Sample,
    item: dict[str, Any] | None = None,
    *,
    runtime: GraderRuntime | None = None,
) -> RunGraderResponse:
    """Synchronous :func:`run_grader_async`.

    >>> grader = {"type": "string_check", "input": "{{sample.output_text}}",
    ...           "reference": "{{item.answer}}", "operation": "eq"}
    >>> run_grader(grader, "Paris", {"answer": "Paris"}).reward
    1.0
    """
    return asyncio.run(run_grader_async(grader, sample, item, runtime=runtime))


async def grade_batch_async(
    grader: Grader | dict[str, Any],
    pairs: Sequence[Pair],
    *,
    runtime: GraderRuntime | None = None,
    concurrency: int | None = None,
    on_result: OnResult | None = None,
) -> list[RunGraderResponse]:
    """Grade many (sample, item) pairs concurrently through a bounded pool.

    Returns one response per pair, in order; a failing pair gets reward 0 and its error
    flags, never an exception. ``on_result(index, response)`` is called as each finishes.
    """
    parsed = parse_grader(grader)
    rt = runtime or default_runtime()
    if isinstance(parsed, PythonGrader):
        from openrft.graders._python import grade_python_many

        return await grade_python_many(parsed, pairs, rt, on_result=on_result)
    results: list[RunGraderResponse | None] = [None] * len(pairs)
    todo = iter(enumerate(pairs))

    async def worker() -> None:
        # A fixed set of workers pulling from one iterator bounds concurrency without a task per pair.
        for index, (sample, item) in todo:
            started = time.perf_counter()
            grade = await grade_once(parsed, coerce_sample(sample), item or {}, rt)
            results[index] = response = to_response(parsed, grade, time.perf_counter() - started)
            if on_result is not None:
                on_result(index, response)

    workers = min(len(pairs), concurrency or rt.settings.grading_concurrency)
    await asyncio.gather(*(worker() for _ in range(workers)))
    return [r for r in results if r is not None]  # every pair has been graded


def grade_batch(
    grader: Grader | dict[str, Any],
    pairs: Sequence[Pair],
    *,
    runtime: GraderRuntime | None = None,
    concurrency: int | None = None,
    on_result: OnResult | None = None,
) -> list[RunGraderResponse]:
    """Synchronous :func:`grade_batch_async`."""
    return asyncio.run(
        grade_batch_async(grader, pairs, runtime=runtime, concurrency=concurrency, on_result=on_result)
    )
