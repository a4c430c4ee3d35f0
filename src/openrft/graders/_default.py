"""The process-wide grading runtime, for calls that are given none.

Its own module so that grader types (``_text_similarity.py``), validation and the runner can all
reach it without importing each other.
"""

from __future__ import annotations

import atexit

from openrft.graders._runtime import GraderRuntime

_default_runtime: GraderRuntime | None = None


def default_runtime() -> GraderRuntime:
    """A process-wide runtime (settings from the environment), closed at exit."""
    global _default_runtime
    if _default_runtime is None:
        _default_runtime = GraderRuntime()
        atexit.register(_default_runtime.close)
    return _default_runtime
