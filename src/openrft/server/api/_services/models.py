"""``/v1/models``: the registry's models and the runtime-loaded adapters as OpenAI's ``Model``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from openrft.server._shared import OWNER, ModelRegistry, OfferedModel, Principal
from openrft.server.api._types.common import ListPage
from openrft.server.api._types.models import Model

if TYPE_CHECKING:
    from openrft.server.api._services.serving import Adapter, ServingModels


def _model_object(offered: OfferedModel) -> Model:
    return Model(id=offered.id, created=offered.created, owned_by=offered.owned_by)


class ModelService:
    def __init__(self, registry: ModelRegistry, serving: ServingModels):
        self.registry = registry
        self.serving = serving

    def list(self, principal: Principal) -> ListPage[Model]:
        """Shared models, the caller's project's ``ft:`` models and the runtime-loaded adapters."""
        models = [_model_object(m) for m in self.registry.list(principal)]
        models += [_adapter_object(a) for a in self.serving.adapters()]
        return ListPage[Model](data=models, first_id=None, last_id=None, has_more=False)

    def get(self, principal: Principal, name: str) -> Model:
        adapter = self.serving.runtime.get(name)
        return _adapter_object(adapter) if adapter else _model_object(self.registry.get(name, principal))


def _adapter_object(adapter: Adapter) -> Model:
    return Model(id=adapter.name, created=adapter.created, owned_by=OWNER)
