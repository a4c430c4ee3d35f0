"""Turns between the requests on one local model, so that none waits out another's long answer.

One thread per model runs :meth:`LocalChatModel.advance` on the generations in
its care. At most ``max_active`` are under way at once (each keeps its KV cache between
turns); later ones wait, and the next to start is one from the share with the fewest under
way. Turns go round the *shares* (the server passes the caller's project; by default every
request is a share of its own), then round the generations of a share, one slice each. A
slice lasts until its generation is done, or until ``slice_seconds`` have passed while another
generation waits. With ``k`` shares busy, each gets about ``1/k`` of the model whatever the
others asked for, and a newcomer's first token waits at most about ``k`` slices.

The thread starts with the first generation and ends after ``idle_seconds`` without one.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING

from openrft.models._generation import Generation

if TYPE_CHECKING:
    from openrft.models._local import LocalChatModel

log = logging.getLogger("openrft.models")


class GenerationScheduler:
    """Runs the :class:`Generation` objects of one :class:`LocalChatModel` in turns (thread-safe).

    Args:
        model: the model every generation runs on.
        slice_seconds: how long one generation keeps the model while another waits.
        max_active: generations under way at once (their KV caches are held in memory).
        idle_seconds: how long the thread waits for work before it ends.
    """

    def __init__(
        self,
        model: LocalChatModel,
        *,
        slice_seconds: float = 0.25,
        max_active: int = 8,
        idle_seconds: float = 2.0,
    ):
        self.model = model
        self.slice_seconds = slice_seconds
        self.max_active = max_active
        self.idle_seconds = idle_seconds
        self._cond = threading.Condition()
        self._waiting: list[tuple[str, Generation]] = []
        self._active: dict[str, deque[Generation]] = {}
        self._turns: deque[str] = deque()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, generation: Generation, share: str | None = None) -> None:
        """Queue ``generation``; its ``finished`` event is set when it is over."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the model is closed")
            self._waiting.append((share or f"request:{id(generation)}", generation))
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="openrft-generation", daemon=True)
                self._thread.start()
            self._cond.notify()

    @property
    def pending(self) -> int:
        """Generations waiting or under way."""
        return len(self._waiting) + sum(len(q) for q in self._active.values())

    def _others_waiting(self) -> bool:
        return self.pending > 1

    def _admit(self) -> None:
        """Drop cancelled waiters; start waiters while there is room, fewest-under-way share first."""
        for share, generation in [w for w in self._waiting if w[1].cancelled.is_set()]:
            self._waiting.remove((share, generation))
            _finish(generation)
        while self._waiting and sum(len(q) for q in self._active.values()) < self.max_active:
            share, generation = min(self._waiting, key=lambda w: len(self._active.get(w[0], ())))
            self._waiting.remove((share, generation))
            if share not in self._active:
                self._active[share] = deque()
                self._turns.append(share)
            self._active[share].append(generation)

    def _next(self) -> tuple[str, Generation] | None:
        """The generation whose turn it is, or None when the thread should end."""
        with self._cond:
            self._admit()
            while not self._turns:
                if self._closed or (not self._cond.wait(self.idle_seconds) and not self._waiting):
                    self._thread = None
                    return None
                self._admit()
            share = self._turns[0]
            self._turns.rotate(-1)
            queue = self._active[share]
            generation = queue[0]
            queue.rotate(-1)
            return share, generation

    def _retire(self, share: str, generation: Generation) -> None:
        with self._cond:
            queue = self._active[share]
            queue.remove(generation)
            if not queue:
                del self._active[share]
                self._turns.remove(share)
        _finish(generation)

    def _work(self) -> None:
        while (picked := self._next()) is not None:
            share, generation = picked
            try:
                self.model.advance(
                    generation, slice_seconds=self.slice_seconds, others_waiting=self._others_waiting
                )
            except Exception as exc:  # the caller gets it; the other generations go on
                generation.error = exc
            if generation.done:
                self._retire(share, generation)

    def close(self, timeout: float = 60.0) -> None:
        """Cancel every generation and wait for the thread."""
        with self._cond:
            self._closed = True
            for generation in [g for _, g in self._waiting] + [g for q in self._active.values() for g in q]:
                generation.cancel()
            thread = self._thread
            self._cond.notify()
        if thread is not None:
            thread.join(timeout)
        with self._cond:
            for _, generation in self._waiting:
                _finish(generation)
            self._waiting.clear()


def _finish(generation: Generation) -> None:
    """Let the KV cache go and tell the waiting caller."""
    generation._tensors = None
    generation.finished.set()
    if generation.on_finished is not None:
        generation.on_finished()
