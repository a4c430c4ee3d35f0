"""``/v1/evals``, their runs and output items."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from openrft.server.api._serialize import public_base_url
from openrft.server.api._state import PrincipalDep, StateDep
from openrft.server.api._types.common import ERROR_RESPONSES, ListPage
from openrft.server.api._types.evals import (
    CreateEvalRequest,
    CreateEvalRunRequest,
    Eval,
    EvalDeleted,
    EvalRun,
    EvalRunDeleted,
    OutputItem,
    UpdateEvalRequest,
)
from openrft.store import OutputItemStatus, RunStatus


async def _remember_base_url(request: Request) -> None:
    public_base_url.set(str(request.base_url))  # report_url is absolute


router = APIRouter(
    prefix="/v1/evals", tags=["evals"], responses=ERROR_RESPONSES, dependencies=[Depends(_remember_base_url)]
)
Limit = Annotated[int, Query(ge=1, le=1000)]
Order = Literal["asc", "desc"]


@router.post("", response_model=Eval, status_code=201)
async def create_eval(state: StateDep, principal: PrincipalDep, body: CreateEvalRequest) -> Eval:
    return await state.evals.create(principal, body)


@router.get("", response_model=ListPage[Eval])
def list_evals(
    state: StateDep,
    principal: PrincipalDep,
    after: str | None = None,
    limit: Limit = 20,
    order: Order = "asc",
    order_by: Literal["created_at", "updated_at"] = "created_at",
) -> ListPage[Eval]:
    return state.evals.list(principal, after=after, limit=limit, order=order, order_by=order_by)


@router.get("/{eval_id}", response_model=Eval)
def retrieve_eval(state: StateDep, principal: PrincipalDep, eval_id: str) -> Eval:
    return state.evals.get(principal, eval_id)


@router.post("/{eval_id}", response_model=Eval)
def update_eval(state: StateDep, principal: PrincipalDep, eval_id: str, body: UpdateEvalRequest) -> Eval:
    return state.evals.update(principal, eval_id, body)


@router.delete("/{eval_id}", response_model=EvalDeleted)
def delete_eval(state: StateDep, principal: PrincipalDep, eval_id: str) -> EvalDeleted:
    return state.evals.delete(principal, eval_id)


@router.post("/{eval_id}/runs", response_model=EvalRun, status_code=201)
def create_run(state: StateDep, principal: PrincipalDep, eval_id: str, body: CreateEvalRunRequest) -> EvalRun:
    return state.evals.create_run(principal, eval_id, body)


@router.get("/{eval_id}/runs", response_model=ListPage[EvalRun])
def list_runs(
    state: StateDep,
    principal: PrincipalDep,
    eval_id: str,
    after: str | None = None,
    limit: Limit = 20,
    order: Order = "asc",
    status: RunStatus | None = None,
) -> ListPage[EvalRun]:
    return state.evals.list_runs(principal, eval_id, after=after, limit=limit, order=order, status=status)


@router.get("/{eval_id}/runs/{run_id}", response_model=EvalRun)
def retrieve_run(state: StateDep, principal: PrincipalDep, eval_id: str, run_id: str) -> EvalRun:
    return state.evals.get_run(principal, eval_id, run_id)


@router.post("/{eval_id}/runs/{run_id}/cancel", response_model=EvalRun)
@router.post("/{eval_id}/runs/{run_id}", response_model=EvalRun)  # the older path, still served
def cancel_run(state: StateDep, principal: PrincipalDep, eval_id: str, run_id: str) -> EvalRun:
    return state.evals.cancel_run(principal, eval_id, run_id)


@router.delete("/{eval_id}/runs/{run_id}", response_model=EvalRunDeleted)
def delete_run(state: StateDep, principal: PrincipalDep, eval_id: str, run_id: str) -> EvalRunDeleted:
    return state.evals.delete_run(principal, eval_id, run_id)


@router.get("/{eval_id}/runs/{run_id}/output_items", response_model=ListPage[OutputItem])
def list_output_items(
    state: StateDep,
    principal: PrincipalDep,
    eval_id: str,
    run_id: str,
    after: str | None = None,
    limit: Limit = 20,
    order: Order = "asc",
    status: OutputItemStatus | None = None,
) -> ListPage[OutputItem]:
    return state.evals.output_items(
        principal, eval_id, run_id, after=after, limit=limit, order=order, status=status
    )


@router.get("/{eval_id}/runs/{run_id}/output_items/{output_item_id}", response_model=OutputItem)
def retrieve_output_item(
    state: StateDep, principal: PrincipalDep, eval_id: str, run_id: str, output_item_id: str
) -> OutputItem:
    return state.evals.output_item(principal, eval_id, run_id, output_item_id)
