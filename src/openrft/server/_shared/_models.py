"""Which models the server offers, and what each name opens (used by the API and the workers).

Offered: packaged models whose weights are installed (``smollm2-135m-instruct``), base
models registered by name (``OPENRFT_MODELS`` / ``openrft serve --model NAME=PATH`` or
``NAME=ORG/REPO[@REVISION]``), Hugging Face Hub ids the operator allows (``OPENRFT_HUB_MODELS``),
and the ``ft:…`` models and checkpoints that jobs produce. A name outside these is sampled at
``OPENRFT_SAMPLING_BASE_URL`` when that is set, and is unknown (404) otherwise: a client
cannot make the server open an arbitrary path.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from openrft.config import Settings
from openrft.errors import InvalidRequestError
from openrft.models import PACKAGED_MODELS, parse_hub_id
from openrft.store import ModelRow, Store, now

OWNER = "openrft"


class ModelNotFound(InvalidRequestError):
    status_code = 404


@dataclass(frozen=True)
class OfferedModel:
    """A model name the server answers to (the API turns it into OpenAI's ``Model``)."""

    id: str
    created: int
    owned_by: str


def installed_packaged_models() -> list[str]:
    """Packaged model names whose weight package is installed (located, never imported)."""
    return [
        name for name, spec in PACKAGED_MODELS.items() if importlib.util.find_spec(spec.module) is not None
    ]


def stored_model_registry(store: Store, settings: Settings) -> ModelRegistry:
    """The registry a worker resolves a stored job's or run's model with.

    The API checked the name when the job or run was created (Hub ids against the server's
    allowed list), so any Hub id stored there is taken as allowed.
    """
    return ModelRegistry(store, settings, hub_models=["*"])


def _not_found(name: str, param: str) -> ModelNotFound:
    return ModelNotFound(
        f"The model {name!r} does not exist (GET /v1/models lists them)", param=param, code="model_not_found"
    )


class ModelRegistry:
    """Model names → what :func:`openrft.models.open_backend` opens.

    Args:
        store: where fine-tuned models, checkpoints and registered base models are recorded.
        settings: library settings (``sampling_base_url`` lets unknown names through).
        base_models: base models to register now, by name (``{"qwen": "/models/qwen"}``).
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        base_models: Mapping[str, str] | None = None,
        hub_models: Sequence[str] = (),
    ):
        self.store = store
        self.settings = settings
        self.hub_models = set(hub_models)
        """Hub ids clients may name directly (``*``: any)."""
        self._started = now()
        for name, path in (base_models or {}).items():
            store.put_model(ModelRow(id=name, kind="base", path=path, created_at=now(), owned_by=OWNER))

    def list(self) -> list[OfferedModel]:
        models = [OfferedModel(name, self._started, OWNER) for name in installed_packaged_models()]
        known = {m.id for m in models}
        for row in self.store.models():
            if row.id not in known:
                models.append(OfferedModel(row.id, row.created_at, row.owned_by))
        known = {m.id for m in models}
        models += [OfferedModel(h, self._started, OWNER) for h in sorted(self.hub_models - {"*"} - known)]
        return models

    def get(self, name: str) -> OfferedModel:
        if name in installed_packaged_models():
            return OfferedModel(name, self._started, OWNER)
        row = self.store.find(ModelRow, name)
        if row is None:
            if self._hub_allowed(name):
                return OfferedModel(name, self._started, OWNER)
            raise _not_found(name, "model")
        return OfferedModel(row.id, row.created_at, row.owned_by)

    def reference(self, name: str, *, param: str = "model") -> str:
        """What to open for ``name``; raises a 404 naming ``param`` for an unknown model."""
        if name in PACKAGED_MODELS:
            return name
        row = self.store.find(ModelRow, name)
        if row is not None:
            return row.path
        if self.settings.sampling_base_url and not name.startswith(("/", ".", "~", "ft:")):
            return name
        if self._hub_allowed(name):
            return name
        raise _not_found(name, param)

    def _hub_allowed(self, name: str) -> bool:
        hub_id = parse_hub_id(name)
        return hub_id is not None and ("*" in self.hub_models or hub_id.repo in self.hub_models)
