"""The loaded sampling backends, by reference: at most a few at once, least recently used leave first."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from openrft.models import SamplingBackend

log = logging.getLogger("openrft.server")


@dataclass
class _Loaded:
    backend: SamplingBackend | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    error: BaseException | None = None
    users: int = 0
    evicted: bool = False


class ModelCache:
    """Opened backends by reference, at most ``capacity`` of them; used from one event loop.

    A backend evicted while requests still use it is closed when the last one finishes.
    """

    def __init__(self, opener: Callable[[str], SamplingBackend], capacity: int):
        self._open = opener
        self.capacity = capacity
        self._entries: OrderedDict[str, _Loaded] = OrderedDict()

    @asynccontextmanager
    async def use(self, reference: str) -> AsyncIterator[SamplingBackend]:
        entry = self._entries.get(reference)
        if entry is None:
            entry = self._entries[reference] = _Loaded()
            self._evict()
            try:
                entry.backend = await asyncio.to_thread(self._open, reference)
            except BaseException as exc:
                entry.error = exc
                self._entries.pop(reference, None)
                raise
            finally:
                entry.ready.set()
        else:
            self._entries.move_to_end(reference)
            await entry.ready.wait()
            if entry.error is not None:
                raise entry.error
        entry.users += 1
        try:
            assert entry.backend is not None
            yield entry.backend
        finally:
            entry.users -= 1
            if entry.evicted and entry.users == 0:
                self._close(entry)

    def _evict(self) -> None:
        while len(self._entries) > self.capacity:
            reference, entry = next(iter(self._entries.items()))
            del self._entries[reference]
            entry.evicted = True
            if entry.users == 0 and entry.ready.is_set():
                self._close(entry)
            log.info("unloaded model %s (more than %d loaded)", reference, self.capacity)

    def _close(self, entry: _Loaded) -> None:
        if entry.backend is not None:
            entry.backend.close()
            entry.backend = None

    def forget(self, reference: str) -> None:
        """Unload ``reference`` (once its last request finishes): its files are going away."""
        entry = self._entries.pop(reference, None)
        if entry is not None:
            entry.evicted = True
            if entry.users == 0 and entry.ready.is_set():
                self._close(entry)

    def loaded(self) -> list[SamplingBackend]:
        """The backends open now, least recently used first."""
        return [e.backend for e in self._entries.values() if e.backend is not None]

    def close(self) -> None:
        for entry in self._entries.values():
            self._close(entry)
        self._entries.clear()
