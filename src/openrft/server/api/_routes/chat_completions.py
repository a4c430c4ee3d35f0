"""``/v1/chat/completions`` (plain or streamed as server-sent events)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from openrft.server.api._state import StateDep
from openrft.server.api._types.chat import ChatCompletion, CreateChatCompletionRequest
from openrft.server.api._types.common import ERROR_RESPONSES

router = APIRouter(tags=["models"], responses=ERROR_RESPONSES)

_STREAM_DOC = {
    200: {
        "description": "A completion; with stream=true, server-sent events of "
        "chat.completion.chunk objects ending in [DONE]",
        "content": {
            "text/event-stream": {"schema": {"type": "string", "description": "data: <chunk JSON> lines"}}
        },
    }
}


@router.post("/v1/chat/completions", response_model=ChatCompletion, responses=_STREAM_DOC)  # type: ignore[arg-type]
async def create_chat_completion(
    state: StateDep, body: CreateChatCompletionRequest
) -> ChatCompletion | StreamingResponse:
    if body.stream:
        events = await state.chat.stream(body)
        return StreamingResponse(
            events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    return await state.chat.complete(body)
