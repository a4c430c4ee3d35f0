"""Which models the server offers, and what each name opens (used by the API and the workers).

Model names are names: what a client sends never becomes a path or a URL. A name resolves
only to what the server offers:

- packaged models whose weights are installed (``smollm2-135m-instruct``);
- base models registered by the operator (``OPENRFT_MODELS`` / ``openrft serve --model
  NAME=PATH`` or ``NAME=ORG/REPO[@REVISION]``), offered to every project;
- the ``ft:…`` models and checkpoints of the caller's own project's jobs (another project's
  name is unknown, as if it did not exist);
- Hugging Face Hub ids the operator allows (``OPENRFT_HUB_MODELS``);
- with ``OPENRFT_SAMPLING_BASE_URL`` set, a plain model name (``gpt-4o-mini``,
  ``Qwen/Qwen3-8B``: letters, digits, ``._-``, one ``/``, one ``:tag``) is sampled there. The
  reference handed on is that configured URL with the name after ``#``, so no client text is
  read as a URL or a path and the sampling key only ever goes to the configured host.

Anything else is a 404 naming ``GET /v1/models``.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from openrft.config import Settings
from openrft.errors import InvalidRequestError
from openrft.models import PACKAGED_MODELS, parse_hub_id
from openrft.server._shared._projects import TRUSTED, Principal, request_principal
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


_PLAIN_NAME = re.compile(
    r"[A-Za-z0-9][\w.-]{0,127}(?:/[A-Za-z0-9][\w.-]{0,127})?(?::[A-Za-z0-9][\w.-]{0,63})?"
)
_NO_PROJECT = Principal("")
"""Who a lookup is for when nobody is named: shared models only, no project's ``ft:`` models."""


def is_plain_name(name: str) -> bool:
    """A model name a remote endpoint may serve: no scheme, no path, no ``..``, ``#``, ``?``, ``%``."""
    return bool(_PLAIN_NAME.fullmatch(name)) and ".." not in name and not name.startswith("ft:")


def stored_model_registry(store: Store, settings: Settings) -> ModelRegistry:
    """The registry a worker resolves a stored job's or run's model with.

    The API checked the name when the job or run was created (its project's models, Hub ids
    against the server's allowed list), so any Hub id stored there is taken as allowed and the
    lookup is not limited to one project. Names still never become URLs or paths.
    """
    return ModelRegistry(store, settings, hub_models=["*"], default_principal=TRUSTED)


def _not_found(name: str, param: str) -> ModelNotFound:
    return ModelNotFound(
        f"The model {name!r} does not exist (GET /v1/models lists them)", param=param, code="model_not_found"
    )


class ModelRegistry:
    """Model names → what :func:`openrft.models.open_backend` opens.

    Every lookup is for a caller (:class:`Principal`): given, else the request's (the API's key
    check sets it), else ``default_principal``, else nobody (shared models only).

    Args:
        store: where fine-tuned models, checkpoints and registered base models are recorded.
        settings: library settings (``sampling_base_url`` lets plain unknown names through).
        base_models: base models to register now, by name (``{"qwen": "/models/qwen"}``).
        hub_models: Hub ids clients may name directly (``*``: any).
        default_principal: who a lookup is for when no caller is given or set.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        base_models: Mapping[str, str] | None = None,
        hub_models: Sequence[str] = (),
        *,
        default_principal: Principal | None = None,
    ):
        self.store = store
        self.settings = settings
        self.hub_models = set(hub_models)
        self.default_principal = default_principal
        self._started = now()
        for name, path in (base_models or {}).items():
            store.put_model(ModelRow(id=name, kind="base", path=path, created_at=now(), owned_by=OWNER))

    def caller(self, principal: Principal | None = None) -> Principal:
        return principal or request_principal.get() or self.default_principal or _NO_PROJECT

    def list(self, principal: Principal | None = None) -> list[OfferedModel]:
        models = [OfferedModel(name, self._started, OWNER) for name in installed_packaged_models()]
        known = {m.id for m in models}
        for row in self.store.models(self.caller(principal).scope):
            if row.id not in known:
                models.append(OfferedModel(row.id, row.created_at, row.owned_by))
        known = {m.id for m in models}
        models += [OfferedModel(h, self._started, OWNER) for h in sorted(self.hub_models - {"*"} - known)]
        return models

    def get(self, name: str, principal: Principal | None = None) -> OfferedModel:
        if name in installed_packaged_models():
            return OfferedModel(name, self._started, OWNER)
        row = self.store.find_model(name, self.caller(principal).scope)
        if row is None:
            if self._hub_allowed(name):
                return OfferedModel(name, self._started, OWNER)
            raise _not_found(name, "model")
        return OfferedModel(row.id, row.created_at, row.owned_by)

    def reference(self, name: str, *, param: str = "model", principal: Principal | None = None) -> str:
        """What to open for ``name``; raises a 404 naming ``param`` for a model the caller may not use."""
        if name in PACKAGED_MODELS:
            return name
        row = self.store.find_model(name, self.caller(principal).scope)
        if row is not None:
            return row.path
        base_url = self.settings.sampling_base_url
        if base_url and is_plain_name(name):
            return f"{base_url}#{name}"
        if self._hub_allowed(name):
            return name
        raise _not_found(name, param)

    def _hub_allowed(self, name: str) -> bool:
        hub_id = parse_hub_id(name)
        if hub_id is None or not ("*" in self.hub_models or hub_id.repo in self.hub_models):
            return False
        # A Hub id that is also a folder where the server runs would be opened as that folder.
        return not Path(name).exists()
