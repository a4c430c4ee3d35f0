"""One budget for every python-grader sandbox of a process: how many workers live, how much memory.

Each live worker holds a :class:`Lease` for what it may use: its memory limit plus its private
``/tmp`` (a RAM-backed tmpfs the address-space limit does not cover), so the leases' sum bounds
what the workers can take together. A pool asks for a lease before it starts a worker and
gives it back when the worker goes (idle, recycled, evicted, closed).

When the budget is full, a new worker waits. Idle workers (alive, between requests) are
evicted to make room, least recently used first. Waiting requests are served fairly across
projects: the project holding the fewest leases goes first, and a busy worker whose project
holds more than its share gives its lease back after its current chunk when another project
is waiting. A project alone may use the whole budget.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

WAIT_SLICE = 1.0
"""Seconds between re-checks while waiting (an evicted worker may take a moment to go)."""


class BudgetError(Exception):
    """A worker that can never fit (its memory is over the whole budget)."""


@dataclass(eq=False)
class Lease:
    """The right of one live worker to run; hand it back with :meth:`SandboxBudget.release`."""

    project: str
    memory_mb: int
    idle: bool = False
    evicting: bool = False
    evict: Callable[[], None] | None = field(default=None, repr=False)
    """Asks the worker's owner to stop it (called when the budget needs the room)."""
    order: int = 0
    """When it last became idle (eviction takes the oldest)."""


@dataclass(eq=False)
class _Wait:
    project: str
    memory_mb: int
    arrived: int


def host_memory_mb() -> int:
    """Physical memory of the host in MiB (``/proc/meminfo``; 8 GiB when it cannot be read)."""
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 8192


class SandboxBudget:
    """At most ``max_workers`` live workers holding at most ``max_memory_mb`` between them."""

    def __init__(self, max_workers: int, max_memory_mb: int):
        if max_workers < 1 or max_memory_mb < 1:
            raise ValueError("a sandbox budget needs at least one worker and one MiB")
        self.max_workers, self.max_memory_mb = max_workers, max_memory_mb
        self._cond = threading.Condition()
        self._leases: list[Lease] = []
        self._waiting: list[_Wait] = []
        self._ticks = itertools.count()
        self.peak_workers = 0
        self.peak_memory_mb = 0
        """The most ever held at once (for tests and benchmarks)."""

    # --- what is held ---
    def held(self) -> tuple[int, int]:
        """(live workers, MiB reserved) now."""
        with self._cond:
            return len(self._leases), sum(lease.memory_mb for lease in self._leases)

    def _held_by(self, project: str) -> int:
        return sum(1 for lease in self._leases if lease.project == project)

    def _fits(self, memory_mb: int, freed: int = 0, freed_mb: int = 0) -> bool:
        used = sum(lease.memory_mb for lease in self._leases) - freed_mb
        return len(self._leases) - freed < self.max_workers and used + memory_mb <= self.max_memory_mb

    # --- acquire and release ---
    def acquire(self, project: str, memory_mb: int, *, stop: Callable[[], bool] | None = None) -> Lease:
        """Block until a worker of ``memory_mb`` may start for ``project``; its lease.

        Raises :class:`BudgetError` when it can never fit, or once ``stop()`` says to give up.
        """
        if memory_mb > self.max_memory_mb:
            raise BudgetError(
                f"one grader worker needs {memory_mb} MiB (memory limit + /tmp), over the whole sandbox "
                f"budget of {self.max_memory_mb} MiB (OPENRFT_PYTHON_GRADER_BUDGET_MB)"
            )
        with self._cond:
            wait = _Wait(project, memory_mb, next(self._ticks))
            self._waiting.append(wait)
            try:
                while True:
                    if stop is not None and stop():
                        raise BudgetError("the pool was closed while it waited for room")
                    first = min(self._waiting, key=lambda w: (self._held_by(w.project), w.arrived))
                    if first is wait and self._fits(memory_mb):
                        lease = Lease(project, memory_mb)
                        self._leases.append(lease)
                        self.peak_workers = max(self.peak_workers, len(self._leases))
                        self.peak_memory_mb = max(self.peak_memory_mb, self.held_mb())
                        return lease
                    evict = self._victims(first.memory_mb)
                    if evict:
                        self._cond.release()  # never call into a pool while holding the budget
                        try:
                            for callback in evict:
                                callback()
                        finally:
                            self._cond.acquire()
                    self._cond.wait(WAIT_SLICE)
            finally:
                self._waiting.remove(wait)
                self._cond.notify_all()

    def held_mb(self) -> int:
        return sum(lease.memory_mb for lease in self._leases)

    def _victims(self, memory_mb: int) -> list[Callable[[], None]]:
        """Idle leases to evict so that ``memory_mb`` fits (those already going count as gone)."""
        going = [lease for lease in self._leases if lease.evicting]
        freed, freed_mb = len(going), sum(lease.memory_mb for lease in going)
        chosen: list[Callable[[], None]] = []
        idle = sorted(
            (lease for lease in self._leases if lease.idle and not lease.evicting), key=lambda x: x.order
        )
        for lease in idle:
            if self._fits(memory_mb, freed, freed_mb) or lease.evict is None:
                break
            lease.evicting = True
            freed, freed_mb = freed + 1, freed_mb + lease.memory_mb
            chosen.append(lease.evict)
        return chosen

    def release(self, lease: Lease) -> None:
        with self._cond:
            if lease in self._leases:
                self._leases.remove(lease)
            self._cond.notify_all()

    # --- idle workers and fair share ---
    def idle(self, lease: Lease, evict: Callable[[], None]) -> None:
        """The worker waits for work: it may be evicted (``evict`` asks its owner to stop it)."""
        with self._cond:
            lease.idle, lease.evict, lease.order = True, evict, next(self._ticks)
            if self._waiting:
                self._cond.notify_all()

    def busy(self, lease: Lease) -> bool:
        """The worker took work; False when it is being evicted and must stop instead."""
        with self._cond:
            lease.idle = False
            return not lease.evicting

    def should_yield(self, lease: Lease) -> bool:
        """After a chunk: give the lease back so that another project's waiting request gets it?"""
        with self._cond:
            if not self._waiting:
                return False
            mine = self._held_by(lease.project)
            projects = {x.project for x in self._leases} | {w.project for w in self._waiting}
            share = max(1, self.max_workers // len(projects))
            return mine > share and any(
                w.project != lease.project and self._held_by(w.project) < mine for w in self._waiting
            )


def make_budget(max_workers: int | None = None, max_memory_mb: int | None = None) -> SandboxBudget:
    """A budget; by default two workers per CPU core holding at most half the host's memory."""
    workers = max_workers or max(2, 2 * (os.cpu_count() or 1))
    return SandboxBudget(workers, max_memory_mb or max(1024, host_memory_mb() // 2))


_default: SandboxBudget | None = None
_default_lock = threading.Lock()


def default_budget() -> SandboxBudget:
    """The budget of pools made without one (a grading runtime brings its own)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = make_budget()
        return _default
