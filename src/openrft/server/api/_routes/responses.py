"""``/v1/responses`` (plain, text output)."""

from __future__ import annotations

from fastapi import APIRouter

from openrft.server.api._state import StateDep
from openrft.server.api._types.common import ERROR_RESPONSES
from openrft.server.api._types.responses import CreateResponseRequest, Response

router = APIRouter(tags=["models"], responses=ERROR_RESPONSES)


@router.post("/v1/responses", response_model=Response)
async def create_response(state: StateDep, body: CreateResponseRequest) -> Response:
    return await state.chat.respond(body)
