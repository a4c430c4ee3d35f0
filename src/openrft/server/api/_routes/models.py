"""``/v1/models``."""

from __future__ import annotations

from fastapi import APIRouter

from openrft.server.api._state import PrincipalDep, StateDep
from openrft.server.api._types.common import ERROR_RESPONSES, ListPage
from openrft.server.api._types.models import Model, ModelDeleted

router = APIRouter(tags=["models"], responses=ERROR_RESPONSES)


@router.get("/v1/models", response_model=ListPage[Model])
def list_models(state: StateDep, principal: PrincipalDep) -> ListPage[Model]:
    return state.models.list(principal)


@router.get("/v1/models/{model:path}", response_model=Model)
def retrieve_model(state: StateDep, principal: PrincipalDep, model: str) -> Model:
    return state.models.get(principal, model)


@router.delete("/v1/models/{model:path}", response_model=ModelDeleted)
async def delete_model(state: StateDep, principal: PrincipalDep, model: str) -> ModelDeleted:
    return await state.models.delete(principal, model)
