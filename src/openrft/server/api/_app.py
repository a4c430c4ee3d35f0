"""``create_app``: the FastAPI application, its routers, error envelope, key check and dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware

from openrft import __version__
from openrft.config import Settings
from openrft.server._shared import ServerSettings
from openrft.server.api._auth import KeyChecker
from openrft.server.api._errors import install_error_handlers
from openrft.server.api._middleware import ApiKeyMiddleware, BodyGuardMiddleware, SecurityHeadersMiddleware
from openrft.server.api._routes import (
    chat_completions,
    completions,
    evals,
    files,
    fine_tuning_jobs,
    graders,
    models,
    projects,
    responses,
)
from openrft.server.api._state import ServerState, bearer
from openrft.store import Store

log = logging.getLogger("openrft.server")

LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "::1", "[::1]"]
"""What ``Host`` may say when no ``allowed_hosts`` are configured."""


def _body_limits(settings: ServerSettings) -> Callable[[str, str], tuple[int, str, bool]]:
    """(method, path) → (bytes allowed, the setting, streamed): uploads have their own limit."""
    upload = (settings.max_upload_bytes, "OPENRFT_MAX_UPLOAD_BYTES", True)
    other = (settings.max_request_bytes, "OPENRFT_MAX_REQUEST_BYTES", False)

    def limit_for(method: str, path: str) -> tuple[int, str, bool]:
        return upload if method == "POST" and path.rstrip("/") == "/v1/files" else other

    return limit_for


async def _sweep_uploads(state: ServerState) -> None:
    """Remove the bytes of uploads a killed process left behind, every ``upload_sweep_seconds``."""
    while True:
        await asyncio.sleep(state.settings.upload_sweep_seconds)
        try:
            swept = await asyncio.to_thread(state.store.sweep_files)
        except Exception:  # a database hiccup: try again next time
            log.exception("sweeping leftover uploads failed")
            continue
        if swept:
            log.info("removed %d leftover upload(s) from %s", swept, state.store.files.root)


def create_app(
    settings: ServerSettings | None = None,
    *,
    api_keys: Sequence[str] | None = None,
    core: Settings | None = None,
    store: Store | None = None,
) -> FastAPI:
    """The API over the store in ``settings.data_dir`` (or ``settings.database_url``).

    Args:
        settings: server settings (default: from ``OPENRFT_*`` variables).
        api_keys: the server's own keys (admin keys of the ``default`` project); default:
            ``settings``'s (a generated one when none is set). Project keys come from the
            store (``openrft keys create``). With ``settings.no_auth`` no key is checked and
            every caller is the ``default`` project.
        core: library settings (model cache, judges, sandbox); default from the environment.
        store: an open store to use instead of opening one from ``settings``.
    """
    settings = settings or ServerSettings()
    state = ServerState.open(settings, core or Settings(), store)
    checker = None
    if not settings.no_auth:
        keys = list(api_keys) if api_keys is not None else settings.resolved_api_keys()[0]
        checker = KeyChecker(keys, state.store)
    swept = state.store.sweep_files()
    if swept:
        log.info("removed %d leftover upload(s) from %s", swept, state.store.files.root)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(_sweep_uploads(state))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            state.close()

    docs: dict[str, Any] = {} if settings.api_docs else {"docs_url": None, "redoc_url": None}
    app = FastAPI(
        title="openrft",
        version=__version__,
        description="OpenAI-compatible reinforcement fine-tuning, graders, evals and models, self-hosted.",
        lifespan=lifespan,
        **docs,
    )
    app.state.openrft = state
    install_error_handlers(app)
    secured = [Depends(bearer)]
    routers = (
        files,
        graders,
        models,
        chat_completions,
        completions,
        responses,
        fine_tuning_jobs,
        evals,
        projects,
    )
    for module in routers:
        app.include_router(module.router, dependencies=secured)
    # Added last runs first: host check, headers, key check, then the body's size and depth.
    app.add_middleware(BodyGuardMiddleware, limit_for=_body_limits(settings))
    app.add_middleware(ApiKeyMiddleware, checker=checker)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(
        TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts or LOOPBACK_HOSTS, www_redirect=False
    )

    from openrft.dashboard import mount_dashboard

    mount_dashboard(app)
    return app
