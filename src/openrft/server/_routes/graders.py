"""``/v1/fine_tuning/alpha/graders/{run,validate}`` and ``/v1/openrft/graders`` (saved graders)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from openrft.graders import RunGraderRequest, RunGraderResponse, run_grader_async, validate_grader
from openrft.server._serialize import saved_grader_object
from openrft.server._state import StateDep
from openrft.server._types.common import ERROR_RESPONSES, ListPage, list_page
from openrft.server._types.graders import (
    SavedGrader,
    SavedGraderCreate,
    SavedGraderDeleted,
    ValidateGraderRequest,
    ValidateGraderResponse,
)
from openrft.store import SavedGraderRow, new_id, now

router = APIRouter(tags=["graders"], responses=ERROR_RESPONSES)


@router.post("/v1/fine_tuning/alpha/graders/run", response_model=RunGraderResponse)
async def run_grader(state: StateDep, body: RunGraderRequest) -> RunGraderResponse:
    # Structure, templates and formula: a 400 for a bad grader. A python source that fails is
    # a result (python_grader_runtime_error), as OpenAI reports it, so it is not loaded here.
    validate_grader(body.grader, check_source=False)
    return await run_grader_async(body.grader, body.model_sample, body.item, runtime=state.runtime)


@router.post("/v1/fine_tuning/alpha/graders/validate", response_model=ValidateGraderResponse)
async def validate(state: StateDep, body: ValidateGraderRequest) -> ValidateGraderResponse:
    grader = await asyncio.to_thread(validate_grader, body.grader, runtime=state.runtime)
    return ValidateGraderResponse(grader=grader.to_wire())


@router.post("/v1/openrft/graders", response_model=SavedGrader)
async def save_grader(state: StateDep, body: SavedGraderCreate) -> SavedGrader:
    grader = await asyncio.to_thread(validate_grader, body.grader, runtime=state.runtime)
    created = now()
    row = SavedGraderRow(
        id=new_id("grader_"), name=body.name, grader=grader.to_wire(), created_at=created, updated_at=created
    )
    return saved_grader_object(state.store.add(row))


@router.get("/v1/openrft/graders", response_model=ListPage[SavedGrader])
def list_saved_graders(
    state: StateDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    order: Literal["asc", "desc"] = "desc",
) -> ListPage[SavedGrader]:
    rows, more = state.store.page(SavedGraderRow, after=after, limit=limit, order=order)
    return list_page([saved_grader_object(r) for r in rows], more)


@router.get("/v1/openrft/graders/{grader_id}", response_model=SavedGrader)
def retrieve_saved_grader(state: StateDep, grader_id: str) -> SavedGrader:
    return saved_grader_object(state.store.get(SavedGraderRow, grader_id, param="grader_id"))


@router.delete("/v1/openrft/graders/{grader_id}", response_model=SavedGraderDeleted)
def delete_saved_grader(state: StateDep, grader_id: str) -> SavedGraderDeleted:
    state.store.get(SavedGraderRow, grader_id, param="grader_id")
    state.store.delete(SavedGraderRow, grader_id)
    return SavedGraderDeleted(id=grader_id, deleted=True)
