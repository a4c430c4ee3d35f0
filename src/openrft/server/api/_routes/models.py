"""``/v1/models``."""

from __future__ import annotations

from fastapi import APIRouter

from openrft.server.api._state import StateDep
from openrft.server.api._types.common import ERROR_RESPONSES, ListPage
from openrft.server.api._types.models import Model

router = APIRouter(tags=["models"], responses=ERROR_RESPONSES)


@router.get("/v1/models", response_model=ListPage[Model])
def list_models(state: StateDep) -> ListPage[Model]:
    return state.models.list()


@router.get("/v1/models/{model:path}", response_model=Model)
def retrieve_model(state: StateDep, model: str) -> Model:
    return state.models.get(model)
