"""The OpenAI-compatible server: files, RFT jobs, graders, evals and models over HTTP.

>>> from openrft.server import ServerSettings, create_app
>>> app = create_app(ServerSettings(data_dir="/srv/openrft"), api_keys=["sk-local"])
>>> # uvicorn.run(app): then OpenAI(base_url="http://host:8000/v1", api_key="sk-local")

Two planes side by side that never import each other: ``openrft.server.api`` (the HTTP API)
and ``openrft.server.worker`` (the workers that run jobs and eval runs); they meet in the
store and share ``openrft.server._shared`` (settings, the model registry, job events).
``openrft serve`` runs the app with uvicorn and one worker; ``openrft worker`` runs more
workers against the same store. See docs/server.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openrft.server._shared import ServerSettings

if TYPE_CHECKING:
    from openrft.server.api import create_app

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str) -> Any:
    # The HTTP plane (FastAPI) is loaded on first use: a worker's executor process never needs it.
    if name == "create_app":
        from openrft.server.api import create_app

        return create_app
    raise AttributeError(f"module 'openrft.server' has no attribute {name!r}")
