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
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from openrft.config import Settings
from openrft.errors import BackendUnavailable, GraderValidationError
from openrft.graders._results import Grade, RunGraderResponse, to_response
from openrft.graders._runtime import GraderRuntime
from openrft.graders._sample import Sample, coerce_sample
from openrft.graders._schema import MAX_PYTHON_SOURCE_BYTES, PythonGrader
from openrft.graders.sandbox import SERVER_ERRORS, PythonGraderPool, SandboxResult, WorkerFailure, make_budget

OnResult = Callable[[int, RunGraderResponse], None]
MAX_POOLS = 256
"""Pools a runtime keeps; beyond that, the least recently used idle ones are forgotten."""


@lru_cache(maxsize=256)
def _digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


class PythonPools:
    """A runtime's sandbox pools, one per (project, source): no worker grades two projects' items.

    They share one sandbox budget (live workers and their memory, fair between projects).

    A pool with nothing queued holds no process (its workers stop when idle or when the budget
    needs the room); past ``MAX_POOLS`` the least recently used idle pools are forgotten.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        # One budget for every project's pools of this runtime (a server grades through one runtime).
        self.budget = make_budget(settings.python_grader_budget_workers, settings.python_grader_budget_mb)
        self._pools: OrderedDict[tuple[str, str], PythonGraderPool] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, project: str, source: str) -> PythonGraderPool:
        key = (project, _digest(source))
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
            pool = self._pools[key] = self._new(project, source)
            # An idle pool has no thread and no process: forgetting it frees its memory, and a
            # caller still holding it can go on using it.
            for old_key, old in list(self._pools.items())[: max(0, len(self._pools) - MAX_POOLS)]:
                if old.idle:
                    del self._pools[old_key]
            return pool

    def _new(self, project: str, source: str) -> PythonGraderPool:
        settings = self.settings
        return PythonGraderPool(
            source,
            workers=settings.python_grader_workers,
            timeout=settings.python_grader_timeout,
            memory_mb=settings.python_grader_memory_mb,
            disk_mb=settings.python_grader_disk_mb,
            idle_seconds=settings.python_grader_idle_seconds,
            project=project,
            budget=self.budget,
        )

    def __len__(self) -> int:
        return len(self._pools)

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            pool.close()


def python_pool(source: str, rt: GraderRuntime) -> PythonGraderPool:
    """The pool for this source in the runtime's project, started on first use."""
    pools = rt.resource(("python-pools",), lambda: PythonPools(rt.settings))
    return pools.get(rt.project, source)


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
