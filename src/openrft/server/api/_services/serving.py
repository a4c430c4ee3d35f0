"""Which backend answers a model name, with LoRA adapters served on a shared base model.

Three kinds of name reach a sampling endpoint (chat, responses, completions):

* a **plain model** (packaged, registered, an allowed Hub id, a full-weight ``ft:`` model):
  opened once and kept in the :class:`ModelCache`;
* a **LoRA model**: the ``ft:`` models and checkpoints of LoRA jobs, and adapters loaded at
  run time through vLLM's ``/v1/load_lora_adapter``. They are served as adapters attached to
  one loaded copy of their base model (multi-LoRA): hundreds of fine-tuned models cost one
  base model plus a few MB each, and at most ``max_loaded_adapters`` are attached at once per
  base (least recently used leave and are attached again on their next request);
* with ``adapter_server_url`` set, LoRA ``ft:`` models are served by that vLLM server instead:
  the adapter is loaded there once under the model's name and the request is forwarded.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from openrft.config import Settings
from openrft.errors import InvalidRequestError
from openrft.models import (
    Completion,
    Conversation,
    GenerationOptions,
    LocalBackend,
    RemoteBackend,
    SamplingBackend,
    VLLMServer,
)
from openrft.server._shared import ModelNotFound, ModelRegistry, ServerSettings
from openrft.server.api._services.cache import ModelCache
from openrft.store import now

log = logging.getLogger("openrft.server")


@dataclass(frozen=True)
class Adapter:
    """A LoRA model: its name, its folder, and the base model it is attached to."""

    name: str
    path: Path
    base: str
    """What the model cache opens for the base (its resolved folder)."""
    created: int


class AdapterBackend:
    """A :class:`SamplingBackend` that generates with one adapter on a shared base model."""

    def __init__(self, base: LocalBackend, adapter: str):
        self.base = base
        self.adapter = adapter
        self.name = adapter

    async def sample(
        self, conversations: Sequence[Conversation], *, n: int = 1, options: GenerationOptions
    ) -> list[list[Completion]]:
        return await self.base.sample(conversations, n=n, options=options, adapter=self.adapter)

    def close(self) -> None:
        """Nothing to release: the base model belongs to the cache."""


@dataclass(frozen=True)
class LocalTarget:
    """A model that runs in this server: its backend and the adapter to generate with."""

    backend: LocalBackend
    adapter: str | None


def as_local(backend: SamplingBackend) -> LocalTarget | None:
    """Where ``backend`` generates in this process (None: it is served elsewhere)."""
    if isinstance(backend, AdapterBackend):
        return LocalTarget(backend.base, backend.adapter)
    if isinstance(backend, LocalBackend):
        return LocalTarget(backend, None)
    return None


class ServingModels:
    """Model names → a backend, for the sampling endpoints (used from the server's event loop)."""

    def __init__(self, registry: ModelRegistry, cache: ModelCache, settings: ServerSettings, core: Settings):
        self.registry = registry
        self.cache = cache
        self.settings = settings
        self.core = core
        self.runtime: dict[str, Adapter] = {}
        """Adapters loaded through ``/v1/load_lora_adapter`` (kept until unloaded or restart)."""
        self._attached: dict[str, OrderedDict[str, None]] = {}
        """Per base: the adapter names attached to its loaded model, least recently used first."""
        self._registered_adapters: dict[str, Adapter] = {}
        """``ft:`` models that are LoRA adapters, with their base (resolved once per name)."""
        self._remote_loaded: set[str] = set()
        self._lock = asyncio.Lock()

    # --- runtime adapters (vLLM's API) ---
    async def load_adapter(self, name: str, path: str) -> None:
        from openrft.models._lora import adapter_base, is_adapter

        self._require_runtime_updates()
        folder = Path(path).expanduser()
        if not folder.is_absolute():
            raise InvalidRequestError(f"lora_path {path!r} must be an absolute path", param="lora_path")
        folder = folder.resolve()
        roots = [Path(r).expanduser().resolve() for r in self.settings.lora_roots]
        if roots and not any(folder.is_relative_to(root) for root in roots):
            raise InvalidRequestError(
                f"lora_path {path!r} is outside the folders this server loads adapters from",
                param="lora_path",
            )
        if not is_adapter(folder):
            raise InvalidRequestError(
                f"lora_path {path!r} is not a LoRA adapter folder (no adapter_config.json)", param="lora_path"
            )
        if name in self.runtime or self._registered(name):
            raise InvalidRequestError(
                f"the LoRA adapter {name!r} has already been loaded (or the name is taken)", param="lora_name"
            )
        base = await asyncio.to_thread(adapter_base, folder, self.core.cache_dir)
        adapter = Adapter(name, folder, str(Path(base).resolve()), now())
        async with self._attached_to(adapter):  # fails here, not on the first request, if it does not apply
            pass
        self.runtime[name] = adapter
        log.info("loaded LoRA adapter %s from %s", name, folder)

    async def unload_adapter(self, name: str) -> None:
        self._require_runtime_updates()
        adapter = self.runtime.pop(name, None)
        if adapter is None:
            raise ModelNotFound(
                f"no LoRA adapter {name!r} is loaded", param="lora_name", code="model_not_found"
            )
        attached = self._attached.get(adapter.base)
        if attached is not None and name in attached:
            del attached[name]
            await self._detach(adapter.base, name)
        log.info("unloaded LoRA adapter %s", name)

    def _require_runtime_updates(self) -> None:
        if not self.settings.allow_runtime_lora_updating:
            raise InvalidRequestError(
                "runtime LoRA loading is off on this server: start it with --allow-runtime-lora "
                "(OPENRFT_ALLOW_RUNTIME_LORA_UPDATING=1)",
                param="lora_name",
                code="runtime_lora_disabled",
            )

    def _registered(self, name: str) -> bool:
        try:
            self.registry.reference(name)
        except ModelNotFound:
            return False
        return True

    # --- name → backend ---
    @asynccontextmanager
    async def backend(self, model: str, *, param: str = "model") -> AsyncIterator[SamplingBackend]:
        """The backend that answers ``model``, for the duration of one request."""
        adapter = self.runtime.get(model) or await self._registered_adapter(model, param)
        if adapter is None:
            async with self.cache.use(self.registry.reference(model, param=param)) as backend:
                yield backend
            return
        if self.settings.adapter_server_url and model not in self.runtime:
            yield await self._remote(adapter)
            return
        async with self._attached_to(adapter) as backend:
            yield backend

    async def _registered_adapter(self, model: str, param: str) -> Adapter | None:
        from openrft.models._lora import adapter_base, is_adapter

        reference = self.registry.reference(model, param=param)  # a 404 for unknown names, every time
        known = self._registered_adapters.get(model)
        if known is not None and known.path == Path(reference):
            return known
        folder = Path(reference)
        if not folder.is_absolute() or not is_adapter(folder):
            return None
        base = await asyncio.to_thread(adapter_base, folder, self.core.cache_dir)
        adapter = self._registered_adapters[model] = Adapter(model, folder, str(Path(base).resolve()), now())
        return adapter

    @asynccontextmanager
    async def _attached_to(self, adapter: Adapter) -> AsyncIterator[SamplingBackend]:
        async with self.cache.use(adapter.base) as base:
            if not isinstance(base, LocalBackend):
                raise InvalidRequestError(
                    f"model {adapter.name!r}: its base model does not run in this server", param="model"
                )
            async with self._lock:
                attached = self._attached.setdefault(adapter.base, OrderedDict())
                if adapter.name not in base.model.adapters:
                    await asyncio.to_thread(base.model.load_adapter, adapter.name, adapter.path)
                attached[adapter.name] = None
                attached.move_to_end(adapter.name)
                while len(attached) > self.settings.max_loaded_adapters:
                    old, _ = attached.popitem(last=False)
                    if old in base.model.adapters:
                        await asyncio.to_thread(base.model.unload_adapter, old)
            yield AdapterBackend(base, adapter.name)

    async def _detach(self, base_reference: str, name: str) -> None:
        async with self.cache.use(base_reference) as base, self._lock:
            if isinstance(base, LocalBackend) and name in base.model.adapters:
                await asyncio.to_thread(base.model.unload_adapter, name)

    async def _remote(self, adapter: Adapter) -> SamplingBackend:
        url = str(self.settings.adapter_server_url)
        key = self.settings.adapter_server_api_key
        if adapter.name not in self._remote_loaded:
            server = VLLMServer(url, api_key=key, timeout=self.core.sampling_timeout)
            try:
                served = await asyncio.to_thread(server.models)
                if adapter.name not in served:
                    await asyncio.to_thread(server.load_adapter, adapter.name, adapter.path)
            finally:
                server.close()
            self._remote_loaded.add(adapter.name)
        return RemoteBackend(
            url,
            adapter.name,
            api_key=key,
            concurrency=self.core.sampling_concurrency,
            max_retries=self.core.sampling_max_retries,
            timeout=self.core.sampling_timeout,
        )

    async def forget(self, name: str, reference: str) -> None:
        """Let a deleted model go: unload it, or detach it when it is an adapter on a loaded base."""
        self.cache.forget(reference)
        adapter = self._registered_adapters.pop(name, None)
        attached = self._attached.get(adapter.base) if adapter is not None else None
        if adapter is not None and attached is not None and name in attached:
            del attached[name]
            await self._detach(adapter.base, name)

    def adapters(self) -> list[Adapter]:
        """The adapters loaded at run time, oldest first."""
        return sorted(self.runtime.values(), key=lambda a: a.created)
