"""``/v1/chat/completions`` (plain or streamed as server-sent events)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from openrft.server.api._disconnect import unless_disconnected
from openrft.server.api._state import StateDep
from openrft.server.api._types.chat import ChatCompletion, CreateChatCompletionRequest
from openrft.server.api._types.common import ERROR_RESPONSES

router = APIRouter(tags=["models"], responses=ERROR_RESPONSES)

_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A completion; with stream=true, server-sent events of "
        "chat.completion.chunk objects ending in [DONE]",
        "content": {
            "text/event-stream": {"schema": {"type": "string", "description": "data: <chunk JSON> lines"}}
        },
    }
}

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.post("/v1/chat/completions", response_model=ChatCompletion, responses=_STREAM_DOC)
async def create_chat_completion(
    request: Request, state: StateDep, body: CreateChatCompletionRequest
) -> ChatCompletion | Response:
    if body.stream:
        events = await state.chat.stream(body)
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    return await unless_disconnected(request, state.chat.complete(body))
