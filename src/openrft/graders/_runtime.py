"""The grading runtime: settings plus the long-lived resources graders share.

Sandbox pools, judge clients and embedding models are expensive to start, so they are
created on first use, cached here by key and closed together with the runtime.

A server grades for several projects with one runtime: :meth:`GraderRuntime.for_project`
gives a view that shares every resource but names the project, so that python graders run
in that project's own sandbox pools (judges and embedding models hold no one's data and are
shared).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from openrft.config import Settings


class Closeable(Protocol):
    def close(self) -> None: ...


R = TypeVar("R", bound=Closeable)


class GraderRuntime:
    """Shared state for grading; use as a context manager or call :meth:`close`."""

    def __init__(self, settings: Settings | None = None, *, project: str = ""):
        self.settings = settings or Settings()
        self.project = project
        """Whose grades run through this runtime (``""``: a library caller, one tenant)."""
        self._resources: dict[Any, Closeable] = {}
        self._lock = threading.Lock()
        self._owner = True

    def for_project(self, project: str) -> GraderRuntime:
        """A view of this runtime for ``project``: the same resources, its own sandbox pools.

        Closing the view closes nothing; the runtime it came from owns the resources.
        """
        view = GraderRuntime.__new__(GraderRuntime)
        view.settings, view.project = self.settings, project
        view._resources, view._lock, view._owner = self._resources, self._lock, False
        return view

    def resource(self, key: Any, factory: Callable[[], R]) -> R:
        """The resource cached under ``key``, created by ``factory`` the first time."""
        with self._lock:
            if key not in self._resources:
                self._resources[key] = factory()
            return cast(R, self._resources[key])  # one cache of many types: the key's factory made it

    def close(self) -> None:
        if not self._owner:
            return
        with self._lock:
            resources, self._resources = list(self._resources.values()), {}
        for res in resources:
            res.close()

    def __enter__(self) -> GraderRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def run_blocking(func: Callable[..., Any], *args: Any) -> Any:
    """Run CPU-bound grading work (metrics, embeddings) off the event loop."""
    return await asyncio.to_thread(func, *args)
