"""A pool of pre-started sandbox workers that run untrusted python graders.

Threat model
------------
A python grader's ``source`` is untrusted code (a job submitter's, or a model-written one).
One pool serves one source of one project; its workers are started once and reused, never one
process per grade (a sandboxed interpreter takes ~0.1-0.3 s to start; a pooled grade takes
microseconds). A worker never grades two projects' items, nor two requests' in one chunk.

Covered, in the ``bwrap`` mode (bubblewrap available; the default on Debian):

- **host files**: the worker sees an empty root with read-only /usr, the Python install,
  this environment's site-packages alone (bound at /opt/grader/site-packages, so a ``.pth``
  pointing into the project leads nowhere), /etc/ld.so.cache, its own /proc and a minimal
  /dev. No project, no /etc/passwd, no home. Landlock repeats that allow-list inside.
- **identity**: every live worker runs as its own unprivileged uid, unique on the host (a lock
  file per uid; the parent drops to it before exec'ing bwrap; when root, a launcher first
  binds a root-only Python install onto world-traversable staging mount points in a private
  mount namespace);
- **network**: a new network namespace (loopback down), seccomp denies ``socket``, Landlock
  denies TCP;
- **processes**: seccomp denies fork/vfork/exec and ``clone`` without ``CLONE_THREAD``;
  the interpreter is pid 1 of its own PID namespace (``--as-pid-1 --die-with-parent``), so
  nothing survives it; the parent kills by uid (pidfds), reaps, and waits until the uid
  owns no process (zombies included);
- **resources**: rlimits (address space ``memory_mb``, lifetime CPU, file size, 256 fds,
  64 tasks per uid, no core files), a ``disk_mb`` tmpfs /tmp, read-only / and /dev; and one
  budget for the whole process (:mod:`._budget`): at most so many live workers, whose
  ``memory_mb + disk_mb`` sum stays under a cap, idle ones evicted, projects served fairly;
- **time**: a soft SIGALRM timeout in the worker and a hard wall-clock kill in the parent
  (``timeout`` + a grace), after which the worker is killed, reaped and replaced;
- **output**: grader prints are captured in-worker (``stdout_cap`` kept, ``output_limit``
  fails the grade); the parent reads length-prefixed frames capped at 1 MiB, never unbounded;
- **forged replies**: each reply frame carries its pair's index and the chunk's random nonce;
  a frame out of place, a malformed one, or any byte left over after a chunk is a protocol
  error and the worker is replaced, so a grader writing frames of its own can at worst spoil
  its own request's grades, never a later request's or another project's;
- **bad answers**: the parent re-validates every value (finite real, not bool/str/None,
  not an int beyond float range); an exception, a bad value or any sandbox failure recycles
  the worker, and a worker with a thread left over from a grade is recycled too.

The ``fallback`` mode (no bubblewrap or no user namespaces) keeps the uid, rlimits,
seccomp and Landlock: host files outside the allow-list, network, processes and signals
stay contained, but there is no PID/mount namespace, /proc is merely unreadable (Landlock)
and disk use is bounded per file (RLIMIT_FSIZE) and not in total.

Not covered: kernel exploits (use gVisor or a microVM for hostile multi-tenant hosting);
timing side channels; CPU *cores* (no cgroup: threads of one grade may use every core until
the wall clock or RLIMIT_CPU stops them); state a grader keeps between the samples a worker
grades: its globals and ``/tmp`` persist across grades and requests of the same source within
one project (as in any pooled design), never across projects. As a non-root user the
workers run as that user (no dedicated uid, no RLIMIT_NPROC); that path is not exercised by
the tests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import json
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

from openrft.graders.sandbox._budget import SandboxBudget, default_budget
from openrft.graders.sandbox._process import SERVER_ERRORS, SandboxResult, WorkerFailure, isolation_mode
from openrft.graders.sandbox._slot import Batch, Item, Slot
from openrft.graders.sandbox._spawn import WorkerSpec

__all__ = ["SERVER_ERRORS", "PythonGraderPool", "SandboxResult", "WorkerFailure"]


class PythonGraderPool:
    """Pre-started sandbox workers for one grader source of one project; thread- and
    event-loop-agnostic.

    Each worker slot has its own thread (blocking pipe I/O with deadlines); a live worker has
    its own uid and a lease from ``budget`` (the process's by default). Requests are cut into
    chunks of up to ``chunk_size`` pairs of one request; a worker answers each pair as it
    finishes, so when it dies or hangs, only the grade it was on fails and the rest of the
    chunk goes to a fresh worker.
    """

    def __init__(
        self,
        source: str,
        *,
        workers: int = 2,
        timeout: float = 120.0,
        memory_mb: int = 2048,
        disk_mb: int = 1024,
        isolation: str = "auto",
        chunk_size: int = 64,
        max_grades_per_worker: int = 100_000,
        recycle_after_error: bool = True,
        idle_seconds: float = 300.0,
        stdout_cap: int = 4096,
        output_limit: int = 1 << 20,
        project: str = "",
        budget: SandboxBudget | None = None,
    ):
        self.source, self._requested = source, isolation
        self.project = project
        """Whose grades these are: the budget shares workers fairly between projects."""
        self.budget = budget or default_budget()
        self.worker_mb = memory_mb + disk_mb
        """What one worker may hold: its address space plus its RAM-backed /tmp."""
        # The spec but its isolation, which is probed on first use (isolation_mode).
        self._limits = WorkerSpec(source, timeout, memory_mb, disk_mb, stdout_cap, output_limit)
        self.chunk_size, self.max_grades = chunk_size, max_grades_per_worker
        self.recycle_after_error, self.idle_seconds = recycle_after_error, idle_seconds
        self._spec_cache: WorkerSpec | None = None
        self._cond = threading.Condition()
        self._queue: deque[Batch] = deque()
        self._pending = 0
        self._probes: deque[concurrent.futures.Future[Any]] = deque()
        self._closed = False
        self.load_error: SandboxResult | None = None
        self.respawns = 0
        self.used_uids: set[int] = set()
        self._slots = [Slot(self, index) for index in range(workers)]

    # --- public API ---------------------------------------------------------------------

    @property
    def uids(self) -> list[int]:
        """Every uid a worker of this pool has run as (live or gone)."""
        with self._cond:
            return sorted(self.used_uids)

    @property
    def live_workers(self) -> int:
        return sum(1 for slot in self._slots if slot.worker is not None and slot.worker.alive)

    @property
    def idle(self) -> bool:
        """Nothing queued, no thread running: the pool holds no worker and may be dropped."""
        with self._cond:
            return not self._queue and not self._probes and all(s.thread is None for s in self._slots)

    @property
    def isolation(self) -> str:
        return self.spec.isolation

    @property
    def spec(self) -> WorkerSpec:
        if self._spec_cache is None:
            mode = isolation_mode(self._requested)
            self._spec_cache = dataclasses.replace(self._limits, isolation=mode)
        return self._spec_cache

    def submit(self, pairs: Sequence[tuple[Any, Any]]) -> concurrent.futures.Future[list[SandboxResult]]:
        """Queue ``(sample, item)`` pairs; the future resolves to one result per pair, in order."""
        payloads: list[bytes | None] = []
        for pair in pairs:
            try:
                payloads.append(json.dumps(list(pair), ensure_ascii=False).encode())
            except (TypeError, ValueError):
                payloads.append(None)
        batch = Batch(payloads)

        def drop_if_cancelled(future: concurrent.futures.Future[list[SandboxResult]]) -> None:
            if future.cancelled():
                self._drop(batch)

        batch.future.add_done_callback(drop_if_cancelled)
        unsent = SandboxResult("invalid_input", detail="the sample or item is not JSON-serialisable")
        self._settle(batch, {i: unsent for i, payload in enumerate(payloads) if payload is None})
        with self._cond:
            if self.load_error is not None or self._closed:
                failure = self.load_error or SandboxResult("closed", detail="the pool is closed")
                self._settle(batch, dict.fromkeys(range(len(payloads)), failure))
            elif batch.left:
                batch.pending.extend(i for i, payload in enumerate(payloads) if payload is not None)
                self._queue.append(batch)
                self._pending += len(batch.pending)
                self._start_threads()
                self._cond.notify_all()
        if not payloads:
            batch.future.set_result([])
        return batch.future

    async def grade_many(self, pairs: Sequence[tuple[Any, Any]]) -> list[SandboxResult]:
        """Grade many pairs; awaitable from any event loop."""
        return await asyncio.wrap_future(self.submit(pairs))

    async def grade(self, sample: Any, item: Any) -> SandboxResult:
        return (await self.grade_many([(sample, item)]))[0]

    def grade_many_sync(self, pairs: Sequence[tuple[Any, Any]]) -> list[SandboxResult]:
        return self.submit(pairs).result()

    def check(self) -> SandboxResult | None:
        """Load the source in a worker: None when it loaded, else the ``load_error`` result.

        Raises :class:`WorkerFailure` when no sandbox worker can be started at all. The worker
        is started by a slot's own thread (its parent-death signal is tied to that thread).
        """
        probe: concurrent.futures.Future[SandboxResult | None] = concurrent.futures.Future()
        with self._cond:
            if self._closed or self.load_error is not None:
                return self.load_error
            self._probes.append(probe)
            self._start_threads()
            self._cond.notify_all()
        return probe.result()

    def close(self) -> None:
        """Fail what is queued, kill every worker and wait until their uids own no process."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            batches, self._queue = list(self._queue), deque()
            probes, self._probes = list(self._probes), deque()
            self._cond.notify_all()
        for probe in probes:
            probe.set_exception(WorkerFailure("closed", "the pool is closed"))
        for batch in batches:
            self._settle(batch, dict.fromkeys(batch.pending, SandboxResult("closed", detail="pool closed")))
        for slot in self._slots:
            slot.stop()
        for slot in self._slots:
            if slot.thread is not None:
                slot.thread.join(timeout=30)

    def __enter__(self) -> PythonGraderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- scheduling (called by the slots) ------------------------------------------------

    def _start_threads(self) -> None:
        for slot in self._slots:
            if slot.thread is None:
                name = f"grader-sandbox-{id(self):x}-{slot.index}"
                slot.thread = threading.Thread(target=slot.run, name=name, daemon=True)
                slot.thread.start()

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _take(self, slot: Slot) -> list[Item] | concurrent.futures.Future[Any] | None:
        """The next chunk (pairs of one request) or a load probe.

        [] after ``idle_seconds`` without work or when the budget evicts the slot's worker;
        None once the pool is closed.
        """
        with self._cond:
            while not self._queue and not self._probes and not self._closed:
                if slot.evicted:
                    return []
                if not self._cond.wait(timeout=self.idle_seconds) and not self._queue and not self._probes:
                    return []
            if self._closed:
                return None
            if self._probes:
                return self._probes.popleft()
            want = min(self.chunk_size, max(1, -(-self._pending // len(self._slots))))
            batch = self._queue[0]  # never two requests in one chunk
            items: list[Item] = []
            while batch.pending and len(items) < want:
                items.append((batch, batch.pending.popleft()))
            if not batch.pending:
                self._queue.popleft()
            self._pending -= len(items)
            return items

    def _release(self, slot: Slot) -> bool:
        """Let an idle slot's thread end (its worker is already gone) unless work is waiting."""
        with self._cond:
            if self._queue or self._probes or self._closed:
                return False
            slot.thread = None
            return True

    def _drop(self, batch: Batch) -> None:
        """A cancelled batch: forget what is still queued of it."""
        with self._cond:
            if batch in self._queue:
                self._queue.remove(batch)
            self._pending -= len(batch.pending)
            batch.pending.clear()

    def _requeue(self, items: list[Item]) -> None:
        if not items:
            return
        with self._cond:
            if self._closed:
                closed = SandboxResult("closed", detail="pool closed")
                for batch, index in items:
                    self._settle(batch, {index: closed})
                return
            for batch, index in reversed(items):
                if not batch.pending:
                    self._queue.appendleft(batch)
                batch.pending.appendleft(index)
            self._pending += len(items)
            self._cond.notify_all()

    def _settle(self, batch: Batch, results: dict[int, SandboxResult]) -> None:
        """Record results (first one wins per pair) and resolve the batch once all are in."""
        with self._cond:
            fresh = [index for index in results if batch.results[index] is None]
            for index in fresh:
                batch.results[index] = results[index]
            batch.left -= len(fresh)
            done = bool(fresh) and batch.left == 0
        if done and not batch.future.done():
            with contextlib.suppress(concurrent.futures.InvalidStateError):  # cancelled meanwhile
                batch.future.set_result([r for r in batch.results if r is not None])  # all are set

    def _fail_load(self, failure: SandboxResult) -> None:
        """The source does not load: that is final; fail everything queued with it."""
        with self._cond:
            self.load_error = failure
            batches, self._queue, self._pending = list(self._queue), deque(), 0
        for batch in batches:
            self._settle(batch, dict.fromkeys(batch.pending, failure))
            batch.pending.clear()
