"""Which models the server offers, and the loaded ones (least recently used leave first).

Offered: packaged models whose weights are installed (``smollm2-135m-instruct``), base
models registered by name (``OPENRFT_MODELS`` / ``openrft serve --model NAME=PATH``), and
the ``ft:…`` models and checkpoints that jobs produce. A name outside these is sampled at
``OPENRFT_SAMPLING_BASE_URL`` when that is set, and is unknown (404) otherwise: a client
cannot make the server open an arbitrary path.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from openrft.config import Settings
from openrft.errors import InvalidRequestError
from openrft.models import PACKAGED_MODELS, SamplingBackend
from openrft.server._types.models import Model
from openrft.store import ModelRow, Store, now

log = logging.getLogger("openrft.server")

OWNER = "openrft"


class ModelNotFound(InvalidRequestError):
    status_code = 404


def installed_packaged_models() -> list[str]:
    """Packaged model names whose weight package is installed (located, never imported)."""
    return [
        name for name, spec in PACKAGED_MODELS.items() if importlib.util.find_spec(spec.module) is not None
    ]


class ModelRegistry:
    """Model names → what :func:`openrft.models.open_backend` opens."""

    def __init__(self, store: Store, settings: Settings, base_models: dict[str, str]):
        self.store = store
        self.settings = settings
        self._started = now()
        for name, path in base_models.items():
            store.put_model(ModelRow(id=name, kind="base", path=path, created_at=now(), owned_by=OWNER))

    def list(self) -> list[Model]:
        models = [
            Model(id=name, created=self._started, owned_by=OWNER) for name in installed_packaged_models()
        ]
        known = {m.id for m in models}
        for row in self.store.models():
            if row.id not in known:
                models.append(Model(id=row.id, created=row.created_at, owned_by=row.owned_by))
        return models

    def get(self, name: str) -> Model:
        if name in installed_packaged_models():
            return Model(id=name, created=self._started, owned_by=OWNER)
        row = self.store.find(ModelRow, name)
        if row is None:
            raise ModelNotFound(
                f"The model {name!r} does not exist (GET /v1/models lists them)",
                param="model",
                code="model_not_found",
            )
        return Model(id=row.id, created=row.created_at, owned_by=row.owned_by)

    def reference(self, name: str, *, param: str = "model") -> str:
        """What to open for ``name``; raises a 404 naming ``param`` for an unknown model."""
        if name in PACKAGED_MODELS:
            return name
        row = self.store.find(ModelRow, name)
        if row is not None:
            return row.path
        if self.settings.sampling_base_url and not name.startswith(("/", ".", "~", "ft:")):
            return name
        raise ModelNotFound(
            f"The model {name!r} does not exist (GET /v1/models lists them)",
            param=param,
            code="model_not_found",
        )


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

    def close(self) -> None:
        for entry in self._entries.values():
            self._close(entry)
        self._entries.clear()
