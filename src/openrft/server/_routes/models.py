"""``/v1/models``, ``/v1/chat/completions`` and ``/v1/responses``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from openrft.server._state import StateDep
from openrft.server._types.chat import ChatCompletion, CreateChatCompletionRequest
from openrft.server._types.common import ERROR_RESPONSES, ListPage
from openrft.server._types.models import Model
from openrft.server._types.responses import CreateResponseRequest, Response

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


@router.get("/v1/models", response_model=ListPage[Model])
def list_models(state: StateDep) -> ListPage[Model]:
    models = state.registry.list()
    return ListPage[Model](data=models, first_id=None, last_id=None, has_more=False)


@router.get("/v1/models/{model:path}", response_model=Model)
def retrieve_model(state: StateDep, model: str) -> Model:
    return state.registry.get(model)


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


@router.post("/v1/responses", response_model=Response)
async def create_response(state: StateDep, body: CreateResponseRequest) -> Response:
    return await state.chat.respond(body)
