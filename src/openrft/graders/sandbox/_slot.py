"""One worker slot of a python-grader pool: a thread, at most one live worker, its uid and lease.

The slot takes chunks (pairs of one request) from its pool, starts a worker when it needs one
(a lease from the budget first, then a host-unique uid), sends the chunk under a fresh nonce
and checks that every reply frame is the one expected (index and nonce). When it waits for
work its worker is idle and the budget may evict it; after a chunk it gives its lease back if
another project is waiting and its own holds more than its share.
"""

from __future__ import annotations

import concurrent.futures
import math
import secrets
import threading
from collections import deque
from typing import Any

from openrft.graders.sandbox._budget import BudgetError, Lease
from openrft.graders.sandbox._process import (
    DETAIL_CAP,
    SERVER_ERRORS,
    SandboxResult,
    Worker,
    WorkerFailure,
    parse_reply,
    text_field,
)
from openrft.graders.sandbox._spawn import log, uids


class Batch:
    """Pairs submitted together, completed together (a concurrent future of the results)."""

    def __init__(self, payloads: list[bytes | None]):
        self.payloads = payloads
        self.results: list[SandboxResult | None] = [None] * len(payloads)
        self.pending: deque[int] = deque()
        self.left = len(payloads)
        self.retried: set[int] = set()
        """Pairs already sent again after a stale frame (a second one fails them)."""
        self.future: concurrent.futures.Future[list[SandboxResult]] = concurrent.futures.Future()


Item = tuple[Batch, int]


class _Stale(Exception):
    """A frame of an earlier chunk: the worker was tampered with, the grade in progress was not."""


class Slot:
    """One worker slot: a thread, and at most one live worker with its uid and budget lease."""

    def __init__(self, pool: Any, index: int):
        self.pool = pool
        """The :class:`~openrft.graders.sandbox.PythonGraderPool` it serves (which imports this module)."""
        self.index = index
        self.worker: Worker | None = None
        self.starting: Worker | None = None
        self.thread: threading.Thread | None = None
        self.uid: int | None = None
        self.lease: Lease | None = None
        self.evicted = False
        """The budget asked for this slot's idle worker back."""
        self._last_nonce: str | None = None

    def run(self) -> None:
        while (job := self.pool._take(self)) is not None:
            try:
                if isinstance(job, concurrent.futures.Future):
                    self._probe(job)
                elif not job:  # idle or evicted: give the process back; end unless work came in
                    self.retire()
                    if self.pool._release(self):
                        return
                else:
                    self._execute(job)
            except Exception as exc:  # a bug here must not strand callers on unresolved futures
                log.exception("python-grader sandbox: slot failed")
                self.retire()
                if isinstance(job, list):
                    failure = SandboxResult("worker_died", detail=f"internal error: {exc}")
                    self._settle([(batch, index, failure) for batch, index in job])
                elif not job.done():
                    job.set_exception(WorkerFailure("spawn_failed", str(exc)))
            if self.lease is not None and self.worker is not None:
                self.pool.budget.idle(self.lease, self._evict)
        self.retire()

    def _evict(self) -> None:
        self.evicted = True
        self.pool._wake()

    def _probe(self, probe: concurrent.futures.Future[Any]) -> None:
        try:
            if self.pool.load_error is None and (self.worker is None or not self.worker.alive):
                self._spawn()
            probe.set_result(self.pool.load_error)
        except WorkerFailure as exc:
            probe.set_exception(exc)
        except (OSError, BudgetError, RuntimeError) as exc:
            probe.set_exception(WorkerFailure("spawn_failed", str(exc)))

    def _spawn(self) -> Worker | None:
        """A fresh ready worker, or None when the source does not load (recorded on the pool)."""
        self.retire()
        pool = self.pool
        self.lease = pool.budget.acquire(pool.project, pool.worker_mb, stop=lambda: pool._closed)
        self.uid = uids.take()
        with pool._cond:
            pool.used_uids.add(self.uid)
        worker = self.starting = Worker(pool.spec, self.uid)
        try:
            reply = worker.start()
        except BaseException:
            self.starting = None
            worker.kill()
            self.retire()
            raise
        self.starting = None
        if reply.get("s") != "ready":
            worker.kill()
            self.retire()
            detail = text_field(reply.get("d"), 2000) or "the source did not load"
            traceback = text_field(reply.get("tb"), DETAIL_CAP)
            pool._fail_load(SandboxResult("load_error", detail=f"{detail}\n{traceback}".strip()))
            return None
        self.worker, self._last_nonce = worker, None
        pool.respawns += 1
        return worker

    def _usable(self) -> Worker | None:
        """The live worker, unless the budget is taking it back or it holds bytes nobody asked for."""
        worker = self.worker if self.worker is not None and self.worker.alive else None
        if worker is None or self.lease is None:
            return None
        if not self.pool.budget.busy(self.lease) or worker.has_pending():
            self.retire()
            return None
        return worker

    def _execute(self, items: list[Item]) -> None:
        worker = self._usable()
        if worker is None and self.pool.load_error is None:
            try:
                worker = self._spawn()
            except (WorkerFailure, OSError, BudgetError, RuntimeError) as exc:
                log.error("python-grader sandbox: cannot start a worker: %s", exc)
                failure = SandboxResult("spawn_failed", detail=str(exc)[:DETAIL_CAP])
                self._settle([(batch, index, failure) for batch, index in items])
                return
        if worker is None:
            failure = self.pool.load_error or SandboxResult("spawn_failed")
            self._settle([(batch, index, failure) for batch, index in items])
            return
        self._grade(worker, items)
        if self.lease is not None and self.pool.budget.should_yield(self.lease):
            self.retire()  # another project is waiting and ours holds more than its share

    def _receive(self, worker: Worker, nonce: str, position: int, timeout: float) -> dict[str, Any]:
        """The reply to pair ``position`` of the chunk sent under ``nonce``; anything else is refused."""
        reply = worker.receive(timeout)
        if reply.get("n") != nonce:
            if self._last_nonce is not None and reply.get("n") == self._last_nonce:
                raise _Stale
            raise WorkerFailure("protocol", "a reply frame without this chunk's nonce")
        if reply.get("i") != position:
            raise WorkerFailure(
                "protocol", f"a reply frame for pair {str(reply.get('i'))[:20]}, not {position}"
            )
        return reply

    def _grade(self, worker: Worker, items: list[Item]) -> None:
        """Send one chunk and collect its replies; on a failure, blame the grade in progress."""
        spec, pool = worker.spec, self.pool
        hard = spec.timeout + spec.grace
        done: list[tuple[Batch, int, SandboxResult]] = []
        recycle = False
        nonce = secrets.token_hex(16)
        pairs = b",".join(batch.payloads[i] or b"" for batch, i in items)
        try:
            worker.send(b'{"n":"' + nonce.encode() + b'","p":[' + pairs + b"]}", hard)
            for position, (batch, index) in enumerate(items):
                reply = self._receive(worker, nonce, position, hard)
                result = parse_reply(reply)
                done.append((batch, index, result))
                worker.graded += 1
                cpu = reply.get("cpu", worker.cpu)
                worker.cpu = cpu if isinstance(cpu, int | float) else math.inf  # the worker's word
                failed = result.status != "ok" and (
                    pool.recycle_after_error or result.status in SERVER_ERRORS
                )
                if failed or reply.get("threads"):
                    recycle = True
                    break
            else:
                recycle = worker.has_pending()  # a byte past the last reply: a forged frame
        except _Stale:
            recycle = True
            batch, index = items[len(done)]
            if index in batch.retried:  # stale twice: this pair's own grade is the forger
                done.append((batch, index, SandboxResult("protocol", detail="a stale reply frame")))
            else:
                batch.retried.add(index)
        except WorkerFailure as failure:
            batch, index = items[len(done)]
            kind = "closed" if pool._closed else failure.kind
            done.append((batch, index, SandboxResult(kind, detail=failure.detail[:DETAIL_CAP])))
            recycle = True
        self._last_nonce = nonce
        self._settle(done)
        pool._requeue(items[len(done) :])
        if recycle or worker.graded >= pool.max_grades or worker.cpu > spec.cpu_budget / 2:
            self.retire()

    def _settle(self, done: list[tuple[Batch, int, SandboxResult]]) -> None:
        by_batch: dict[int, tuple[Batch, dict[int, SandboxResult]]] = {}
        for batch, index, result in done:
            by_batch.setdefault(id(batch), (batch, {}))[1][index] = result
        for batch, results in by_batch.values():
            self.pool._settle(batch, results)

    def retire(self) -> None:
        """Kill the worker (if any), give its uid and lease back."""
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.kill()
        uid, self.uid = self.uid, None
        if uid is not None:
            uids.give_back(uid)
        lease, self.lease = self.lease, None
        if lease is not None:
            self.pool.budget.release(lease)
        self.evicted = False

    def stop(self) -> None:
        """Interrupt the live or starting worker from another thread; the slot's thread reaps it."""
        for worker in (self.worker, self.starting):
            if worker is not None:
                worker.interrupt()
