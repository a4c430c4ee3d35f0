"""``/v1/fine_tuning/alpha/graders/{run,validate}`` and ``/v1/openrft/graders`` (saved graders)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from openrft.graders import RunGraderRequest, RunGraderResponse
from openrft.server.api._state import PrincipalDep, StateDep
from openrft.server.api._types.common import ERROR_RESPONSES, ListPage
from openrft.server.api._types.graders import (
    SavedGrader,
    SavedGraderCreate,
    SavedGraderDeleted,
    ValidateGraderRequest,
    ValidateGraderResponse,
)

router = APIRouter(tags=["graders"], responses=ERROR_RESPONSES)


@router.post("/v1/fine_tuning/alpha/graders/run", response_model=RunGraderResponse)
async def run_grader(state: StateDep, principal: PrincipalDep, body: RunGraderRequest) -> RunGraderResponse:
    return await state.graders.run(principal, body)


@router.post("/v1/fine_tuning/alpha/graders/validate", response_model=ValidateGraderResponse)
async def validate(
    state: StateDep, principal: PrincipalDep, body: ValidateGraderRequest
) -> ValidateGraderResponse:
    return await state.graders.validate(principal, body.grader)


@router.post("/v1/openrft/graders", response_model=SavedGrader)
async def save_grader(state: StateDep, principal: PrincipalDep, body: SavedGraderCreate) -> SavedGrader:
    return await state.graders.save(principal, body)


@router.get("/v1/openrft/graders", response_model=ListPage[SavedGrader])
def list_saved_graders(
    state: StateDep,
    principal: PrincipalDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    order: Literal["asc", "desc"] = "desc",
) -> ListPage[SavedGrader]:
    return state.graders.list(principal, after=after, limit=limit, order=order)


@router.get("/v1/openrft/graders/{grader_id}", response_model=SavedGrader)
def retrieve_saved_grader(state: StateDep, principal: PrincipalDep, grader_id: str) -> SavedGrader:
    return state.graders.get(principal, grader_id)


@router.delete("/v1/openrft/graders/{grader_id}", response_model=SavedGraderDeleted)
def delete_saved_grader(state: StateDep, principal: PrincipalDep, grader_id: str) -> SavedGraderDeleted:
    return state.graders.delete(principal, grader_id)
