"""Pause and cancel requests to a running job, from another thread (a signal handler, the server's
heartbeat, a launched process's pause watcher)."""

from __future__ import annotations

import threading


class JobControl:
    """Thread-safe requests from outside the training loop, honoured between steps."""

    def __init__(self) -> None:
        self._pause = threading.Event()
        self._cancel = threading.Event()

    def pause(self) -> None:
        """Finish the current step, checkpoint, stop with status ``paused``."""
        self._pause.set()

    def cancel(self) -> None:
        """Stop after the current step with status ``cancelled`` (no checkpoint)."""
        self._cancel.set()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()
