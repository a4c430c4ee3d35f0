"""``/v1/responses``: create (plain, streamed or background), retrieve, delete, cancel, input items."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Response as HttpResponse
from fastapi.responses import StreamingResponse

from openrft.server.api._disconnect import unless_disconnected
from openrft.server.api._routes.chat_completions import SSE_HEADERS
from openrft.server.api._state import PrincipalDep, StateDep
from openrft.server.api._types.common import ERROR_RESPONSES
from openrft.server.api._types.responses import (
    CreateResponseRequest,
    DeletedResponse,
    Response,
    ResponseItemList,
)

router = APIRouter(prefix="/v1/responses", tags=["models"], responses=ERROR_RESPONSES)

_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A response; with stream=true, server-sent events (response.created … "
        "response.completed)",
        "content": {
            "text/event-stream": {"schema": {"type": "string", "description": "event: / data: lines"}}
        },
    }
}


@router.post("", response_model=Response, responses=_STREAM_DOC)
async def create_response(
    request: Request, state: StateDep, principal: PrincipalDep, body: CreateResponseRequest
) -> Response | HttpResponse:
    if body.stream:
        events = await state.responses.stream(principal, body)
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    return await unless_disconnected(request, state.responses.create(principal, body))


@router.get("/{response_id}", response_model=Response)
def retrieve_response(state: StateDep, principal: PrincipalDep, response_id: str) -> Response:
    return state.responses.retrieve(principal, response_id)


@router.delete("/{response_id}", response_model=DeletedResponse)
def delete_response(state: StateDep, principal: PrincipalDep, response_id: str) -> DeletedResponse:
    state.responses.delete(principal, response_id)
    return DeletedResponse(id=response_id)


@router.post("/{response_id}/cancel", response_model=Response)
async def cancel_response(state: StateDep, principal: PrincipalDep, response_id: str) -> Response:
    return await state.responses.cancel(principal, response_id)


@router.get("/{response_id}/input_items", response_model=ResponseItemList)
def list_input_items(
    state: StateDep,
    principal: PrincipalDep,
    response_id: str,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
    include: Annotated[list[str] | None, Query()] = None,
) -> ResponseItemList:
    return state.responses.input_items(principal, response_id, after=after, limit=limit, order=order)
