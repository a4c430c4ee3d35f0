"""Which models the server offers, and what each name opens (used by the API and the workers).

Offered: packaged models whose weights are installed (``smollm2-135m-instruct``), base
models registered by name (``OPENRFT_MODELS`` / ``openrft serve --model NAME=PATH``), and
the ``ft:…`` models and checkpoints that jobs produce. A name outside these is sampled at
``OPENRFT_SAMPLING_BASE_URL`` when that is set, and is unknown (404) otherwise: a client
cannot make the server open an arbitrary path.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass

from openrft.config import Settings
from openrft.errors import InvalidRequestError
from openrft.models import PACKAGED_MODELS
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

    def __init__(self, store: Store, settings: Settings, base_models: Mapping[str, str] | None = None):
        self.store = store
        self.settings = settings
        self._started = now()
        for name, path in (base_models or {}).items():
            store.put_model(ModelRow(id=name, kind="base", path=path, created_at=now(), owned_by=OWNER))

    def list(self) -> list[OfferedModel]:
        models = [OfferedModel(name, self._started, OWNER) for name in installed_packaged_models()]
        known = {m.id for m in models}
        for row in self.store.models():
            if row.id not in known:
                models.append(OfferedModel(row.id, row.created_at, row.owned_by))
        return models

    def get(self, name: str) -> OfferedModel:
        if name in installed_packaged_models():
            return OfferedModel(name, self._started, OWNER)
        row = self.store.find(ModelRow, name)
        if row is None:
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
        raise _not_found(name, param)
