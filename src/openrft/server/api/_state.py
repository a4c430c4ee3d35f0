"""What a running API holds (one per app), and the route dependency that hands it out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from openrft.config import Settings
from openrft.graders import GraderRuntime
from openrft.server._shared import ModelRegistry, Principal, ServerSettings
from openrft.server.api._errors import AuthenticationError
from openrft.server.api._services.cache import ModelCache
from openrft.server.api._services.chat import ChatService
from openrft.server.api._services.completions import CompletionService
from openrft.server.api._services.evals import EvalService
from openrft.server.api._services.files import FileService
from openrft.server.api._services.generation import Generator
from openrft.server.api._services.graders import GraderService
from openrft.server.api._services.jobs import JobService
from openrft.server.api._services.models import ModelService
from openrft.server.api._services.responses import ResponseService
from openrft.server.api._services.serving import ServingModels
from openrft.store import Store


@dataclass
class ServerState:
    settings: ServerSettings
    core: Settings
    """Library settings (model cache, judges, sandbox, dataset limits), built once for the app."""
    store: Store
    runtime: GraderRuntime
    """One grading runtime for every request: sandbox pools and judges stay warm."""
    registry: ModelRegistry
    cache: ModelCache
    files: FileService
    graders: GraderService
    jobs: JobService
    evals: EvalService
    models: ModelService
    serving: ServingModels
    """Model names → backends: base models, LoRA adapters on shared bases, a remote adapter server."""
    chat: ChatService
    responses: ResponseService
    completions: CompletionService

    @classmethod
    def open(cls, settings: ServerSettings, core: Settings, store: Store | None = None) -> ServerState:
        from openrft.models import open_backend

        store = store or settings.open_store()
        runtime = GraderRuntime(core)
        registry = ModelRegistry(store, core, settings.models, settings.hub_models)
        cache = ModelCache(lambda reference: open_backend(reference, core), settings.max_loaded_models)
        serving = ServingModels(registry, cache, settings, core)
        generator = Generator(serving, settings)
        return cls(
            settings=settings,
            core=core,
            store=store,
            runtime=runtime,
            registry=registry,
            cache=cache,
            files=FileService(store, core, settings.max_upload_bytes),
            graders=GraderService(store, runtime),
            jobs=JobService(store, runtime, registry, core, preflight=settings.preflight),
            evals=EvalService(store, runtime, registry),
            models=ModelService(registry, serving),
            serving=serving,
            chat=ChatService(generator),
            responses=ResponseService(generator, store),
            completions=CompletionService(serving, generator),
        )

    def close(self) -> None:
        self.responses.close()
        self.cache.close()
        self.runtime.close()
        self.store.close()


async def get_state(request: Request) -> ServerState:
    # A coroutine: FastAPI runs a plain function dependency through its thread pool, a hop that
    # cost more than the rest of a small request.
    return request.app.state.openrft


StateDep = Annotated[ServerState, Depends(get_state)]


async def get_principal(request: Request) -> Principal:
    """The caller the key check recorded (``--no-auth``: the default project); a coroutine too."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):  # fail closed: a route the key check did not cover
        raise AuthenticationError("You didn't provide an API key: send 'Authorization: Bearer KEY'.")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
"""Who is asking: the project of the request's key (and whether it is an admin key)."""

bearer = HTTPBearer(
    auto_error=False,
    description="A project key (`openrft keys create`) or one of the server's keys (OPENRFT_API_KEYS)",
)
"""Declared on the routers for the OpenAPI document; the key itself is checked by middleware."""
