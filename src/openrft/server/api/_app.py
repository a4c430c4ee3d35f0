"""``create_app``: the FastAPI application, its routers, error envelope, key check and dashboard."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from openrft import __version__
from openrft.config import Settings
from openrft.server._shared import ServerSettings
from openrft.server.api._errors import install_error_handlers
from openrft.server.api._middleware import ApiKeyMiddleware, UploadLimitMiddleware
from openrft.server.api._routes import (
    chat_completions,
    completions,
    evals,
    files,
    fine_tuning_jobs,
    graders,
    models,
    responses,
)
from openrft.server.api._state import ServerState, bearer
from openrft.store import Store

log = logging.getLogger("openrft.server")


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
        api_keys: the keys to accept; default: ``settings``'s (a generated one when none is set),
            and none at all with ``settings.no_auth``.
        core: library settings (model cache, judges, sandbox); default from the environment.
        store: an open store to use instead of opening one from ``settings``.
    """
    settings = settings or ServerSettings()
    if settings.no_auth:
        keys: Sequence[str] | None = None
    else:
        keys = list(api_keys) if api_keys is not None else settings.resolved_api_keys()[0]
    state = ServerState.open(settings, core or Settings(), store)
    swept = state.store.sweep_files()
    if swept:
        log.info("removed %d leftover upload(s) from %s", swept, state.store.files.root)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        state.close()

    app = FastAPI(
        title="openrft",
        version=__version__,
        description="OpenAI-compatible reinforcement fine-tuning, graders, evals and models, self-hosted.",
        lifespan=lifespan,
    )
    app.state.openrft = state
    install_error_handlers(app)
    secured = [Depends(bearer)]
    routers = (files, graders, models, chat_completions, completions, responses, fine_tuning_jobs, evals)
    for module in routers:
        app.include_router(module.router, dependencies=secured)
    app.add_middleware(UploadLimitMiddleware, limit=settings.max_upload_bytes)
    app.add_middleware(ApiKeyMiddleware, keys=keys)  # added last: runs first

    from openrft.dashboard import mount_dashboard

    mount_dashboard(app)
    return app
