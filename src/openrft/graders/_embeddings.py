"""The grading runtime's embedder (the ``cosine`` metric of ``text_similarity``).

:func:`runtime_embedder` returns the one a :class:`GraderRuntime` is configured for
(:func:`openrft.models.make_embedder`), created once and cached on the runtime under
:func:`embedder_key`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openrft.config import Settings
from openrft.models import LOCAL_EMBEDDING_MODEL, Embedder, make_embedder

if TYPE_CHECKING:
    from openrft.graders._runtime import GraderRuntime


def embedder_key(settings: Settings) -> tuple[str, str, str]:
    """The runtime resource key: one embedder per (backend, endpoint, model)."""
    if settings.embeddings_base_url:
        return ("embedder", settings.embeddings_base_url, settings.embeddings_model)
    return ("embedder", "local", LOCAL_EMBEDDING_MODEL)


def runtime_embedder(rt: GraderRuntime) -> Embedder:
    """The runtime's embedder, created on first use and closed with the runtime."""
    return rt.resource(embedder_key(rt.settings), lambda: make_embedder(rt.settings))
