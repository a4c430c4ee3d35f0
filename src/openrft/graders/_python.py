"""The ``python`` grader: OpenAI's ``def grade(sample, item) -> float``, run in the sandbox.

Outcomes (reference §2.5; "any other result … will be marked as invalid and return a 0 grade"):

- a finite number → that reward;
- ``grade`` raised → reward 0, ``python_grader_runtime_error`` with the traceback in
  ``python_grader_runtime_error_details``;
- ``grade`` returned something that is not a finite real number (NaN, ±inf, a str, None, a
  bool, an int beyond float range) → reward 0, also ``python_grader_runtime_error`` (the
  grader's code misbehaved, the sandbox did not), details ``grade returned 'abc' (str);
  expected a finite number``;
- the source does not load at grading time → reward 0, ``python_grader_runtime_error``;
- the sandbox failed (timeout, memory, worker died, output limit…) → reward 0,
  ``python_grader_server_error`` with ``python_grader_server_error_type`` set to that kind.

Anything the grader printed (first 4 kB) is in ``Grade.details["stdout"]``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from openrft.errors import BackendUnavailable, GraderValidationError
from openrft.graders._results import Grade, RunGraderResponse
from openrft.graders._runtime import GraderRuntime
from openrft.graders._sample import Sample, coerce_sample
from openrft.graders._sandbox import SERVER_ERRORS, PythonGraderPool, SandboxResult, WorkerFailure
from openrft.graders._schema import MAX_PYTHON_SOURCE_BYTES, PythonGrader

OnResult = Callable[[int, RunGraderResponse], None]


@lru_cache(maxsize=256)
def _digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def python_pool(source: str, rt: GraderRuntime) -> PythonGraderPool:
    """The runtime's pool for this source (one per distinct source), started on first use."""
    settings = rt.settings
    key = ("python", _digest(source))
    return rt.resource(
        key,
        lambda: PythonGraderPool(
            source,
            workers=settings.python_grader_workers,
            timeout=settings.python_grader_timeout,
            memory_mb=settings.python_grader_memory_mb,
        ),
    )


def to_grade(result: SandboxResult) -> Grade:
    """Map one sandbox outcome to a :class:`Grade` (see the module docstring)."""
    if result.status == "ok":
        grade = Grade(reward=result.value)
    elif result.status in SERVER_ERRORS:
        grade = Grade.failed("python_grader_server_error", "python_grader_server_error_type", result.status)
        if result.detail:
            grade.details["error"] = result.detail
    else:  # error, invalid, load_error
        grade = Grade.failed(
            "python_grader_runtime_error", "python_grader_runtime_error_details", result.detail
        )
    if result.stdout:
        grade.details["stdout"] = result.stdout
    return grade


async def grade_python(
    grader: PythonGrader, sample: Sample, item: dict[str, Any], rt: GraderRuntime
) -> Grade:
    """Grade one sample with ``grader.source`` in the sandbox."""
    return to_grade(await python_pool(grader.source, rt).grade(sample, item))


async def grade_python_many(
    grader: PythonGrader,
    pairs: Sequence[tuple[str | Sample, dict[str, Any] | None]],
    rt: GraderRuntime,
    *,
    on_result: OnResult | None = None,
) -> list[RunGraderResponse]:
    """Grade many pairs in chunks through the pool; one response per pair, in order.

    ``on_result`` is called for each pair once the whole batch is graded.
    """
    from openrft.graders._runner import to_response

    coerced = [(coerce_sample(sample), item or {}) for sample, item in pairs]
    results = await python_pool(grader.source, rt).grade_many(coerced)
    responses = [to_response(grader, to_grade(result), result.seconds) for result in results]
    if on_result is not None:
        for index, response in enumerate(responses):
            on_result(index, response)
    return responses


def check_python_source(source: str, rt: GraderRuntime) -> None:
    """Load ``source`` in a sandbox worker, as OpenAI's ``graders/validate`` does.

    Raises :class:`GraderValidationError` (``param="source"``) with one line when the source
    is over 256 kB, does not compile or run, has no ``grade`` or a ``grade`` that does not
    take exactly two positional arguments; :class:`BackendUnavailable` when no sandbox
    worker can start.
    """
    size = len(source.encode())
    if size > MAX_PYTHON_SOURCE_BYTES:
        raise GraderValidationError(
            f"source: the source is {size // 1024} kB; the limit is 256 kB", param="source"
        )
    try:
        failure = python_pool(source, rt).check()
    except WorkerFailure as exc:
        raise BackendUnavailable(f"the python-grader sandbox could not start a worker: {exc}") from None
    if failure is not None:
        first_line = (failure.detail or "the source did not load").splitlines()[0]
        raise GraderValidationError(f"source: {first_line}", param="source")
