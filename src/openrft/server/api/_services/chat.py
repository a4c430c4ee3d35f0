"""Chat completions and responses on any offered model, through the sampling backends.

The local backends generate a whole answer at once, so a streamed completion is sent as
chunks of the finished answer (the wire format is OpenAI's; the first token only arrives
when the answer is complete).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from openrft.errors import InvalidRequestError
from openrft.models import Completion, GenerationOptions
from openrft.server.api._services.serving import ServingModels
from openrft.server.api._types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatMessage,
    Choice,
    ChoiceDelta,
    ChunkChoice,
    CompletionTokensDetails,
    CompletionUsage,
    CreateChatCompletionRequest,
)
from openrft.server.api._types.responses import (
    CreateResponseRequest,
    IncompleteDetails,
    OutputMessage,
    OutputText,
    OutputTokensDetails,
    Response,
    ResponseUsage,
)
from openrft.store import now

DEFAULT_MAX_TOKENS = 512
_PIECES = re.compile(r"\S*\s*")


def _text(content: Any, param: str) -> str:
    """A message's content as text: a string, or text parts joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for index, part in enumerate(content):
        if not isinstance(part, Mapping) or part.get("type") not in ("text", "input_text", "output_text"):
            kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
            raise InvalidRequestError(
                f"{param}[{index}]: content parts of type {kind!r} are not supported (text only)",
                param=f"{param}[{index}]",
            )
        texts.append(str(part.get("text", "")))
    return "".join(texts)


def chat_conversation(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """OpenAI chat messages → ``{"role", "content"}`` dicts every chat template reads."""
    out = []
    for index, message in enumerate(messages):
        if message.role in ("tool", "function"):
            raise InvalidRequestError(
                f"messages[{index}].role: {message.role!r} messages are not supported (no tool calling)",
                param=f"messages[{index}].role",
            )
        role = "system" if message.role == "developer" else message.role
        out.append({"role": role, "content": _text(message.content, f"messages[{index}].content")})
    return out


def response_format(value: Mapping[str, Any] | None, param: str = "response_format") -> dict[str, Any] | None:
    """Check a chat ``response_format``; ``text`` (the default) means none."""
    if not value or value.get("type") == "text":
        return None
    kind = value.get("type")
    if kind == "json_object":
        return dict(value)
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("schema"), Mapping):
            raise InvalidRequestError(
                f"{param}.json_schema.schema: a JSON schema object is required",
                param=f"{param}.json_schema.schema",
            )
        return dict(value)
    raise InvalidRequestError(
        f"{param}.type: {kind!r} is not one of text, json_object, json_schema", param=f"{param}.type"
    )


def _cut_at_stop(completion: Completion, stop: str | list[str] | None) -> tuple[str, str]:
    text, finish = completion.text, completion.finish_reason
    for marker in [stop] if isinstance(stop, str) else stop or []:
        if marker and marker in text:
            text, finish = text[: text.index(marker)], "stop"
    return text, finish


def _usage(completions: Sequence[Completion]) -> CompletionUsage:
    prompt = completions[0].prompt_tokens if completions else 0
    generated = sum(c.completion_tokens for c in completions)
    return CompletionUsage(
        prompt_tokens=prompt,
        completion_tokens=generated,
        total_tokens=prompt + generated,
        completion_tokens_details=CompletionTokensDetails(
            reasoning_tokens=sum(c.reasoning_tokens for c in completions)
        ),
    )


class ChatService:
    def __init__(self, serving: ServingModels):
        self.serving = serving

    async def _sample(
        self, model: str, conversation: list[dict[str, str]], n: int, options: GenerationOptions
    ) -> list[Completion]:
        async with self.serving.backend(model) as backend:
            [completions] = await backend.sample([conversation], n=n, options=options)
        return completions

    async def _chat(
        self, request: CreateChatCompletionRequest
    ) -> tuple[list[Completion], list[tuple[str, str]]]:
        conversation = chat_conversation(request.messages)
        temperature = 1.0 if request.temperature is None else request.temperature
        top_p = 1.0 if request.top_p is None else request.top_p
        options = GenerationOptions(
            temperature=0.0 if top_p == 0 else temperature,
            top_p=top_p or 1.0,
            max_tokens=request.max_completion_tokens or request.max_tokens or DEFAULT_MAX_TOKENS,
            seed=request.seed,
            response_format=response_format(request.response_format),
        )
        completions = await self._sample(request.model, conversation, request.n, options)
        return completions, [_cut_at_stop(c, request.stop) for c in completions]

    async def complete(self, request: CreateChatCompletionRequest) -> ChatCompletion:
        completions, answers = await self._chat(request)
        return ChatCompletion(
            id=f"chatcmpl-{secrets.token_hex(12)}",
            created=now(),
            model=request.model,
            choices=[
                Choice(index=i, message=ChatCompletionMessage(content=text), finish_reason=finish)  # type: ignore[arg-type]
                for i, (text, finish) in enumerate(answers)
            ],
            usage=_usage(completions),
        )

    async def stream(self, request: CreateChatCompletionRequest) -> AsyncIterator[str]:
        """Generate, then return the server-sent events of the answer (errors surface before the stream)."""
        completions, answers = await self._chat(request)
        ident, created = f"chatcmpl-{secrets.token_hex(12)}", now()
        include_usage = bool(request.stream_options and request.stream_options.include_usage)

        def chunk(choices: list[ChunkChoice], usage: CompletionUsage | None = None) -> str:
            body = ChatCompletionChunk(
                id=ident, created=created, model=request.model, choices=choices, usage=usage
            )
            return f"data: {body.model_dump_json()}\n\n"

        async def events() -> AsyncIterator[str]:
            for index, (text, finish) in enumerate(answers):
                yield chunk([ChunkChoice(index=index, delta=ChoiceDelta(role="assistant", content=""))])
                for piece in _PIECES.findall(text):
                    if piece:
                        yield chunk([ChunkChoice(index=index, delta=ChoiceDelta(content=piece))])
                yield chunk([ChunkChoice(index=index, delta=ChoiceDelta(), finish_reason=finish)])  # type: ignore[arg-type]
            if include_usage:
                yield chunk([], _usage(completions))
            yield "data: [DONE]\n\n"

        return events()

    async def respond(self, request: CreateResponseRequest) -> Response:
        if request.stream:
            raise InvalidRequestError(
                "streamed responses are not supported yet; use stream=false", param="stream"
            )
        conversation = []
        if request.instructions:
            conversation.append({"role": "system", "content": request.instructions})
        conversation += _response_input(request.input)
        options = GenerationOptions(
            temperature=1.0 if request.temperature is None else request.temperature,
            top_p=request.top_p or 1.0,
            max_tokens=request.max_output_tokens or DEFAULT_MAX_TOKENS,
            response_format=_text_format(request.text),
        )
        [completion] = await self._sample(request.model, conversation, 1, options)
        complete = completion.finish_reason == "stop"
        return Response(
            id=f"resp_{secrets.token_hex(24)}",
            created_at=now(),
            status="completed" if complete else "incomplete",
            model=request.model,
            output=[
                OutputMessage(
                    id=f"msg_{secrets.token_hex(24)}",
                    status="completed" if complete else "incomplete",
                    content=[OutputText(text=completion.text)],
                )
            ],
            usage=ResponseUsage(
                input_tokens=completion.prompt_tokens,
                output_tokens=completion.completion_tokens,
                output_tokens_details=OutputTokensDetails(reasoning_tokens=completion.reasoning_tokens),
                total_tokens=completion.prompt_tokens + completion.completion_tokens,
            ),
            instructions=request.instructions,
            temperature=request.temperature,
            top_p=request.top_p,
            max_output_tokens=request.max_output_tokens,
            metadata=request.metadata or {},
            text=request.text or {"format": {"type": "text"}},
            incomplete_details=None if complete else IncompleteDetails(reason="max_output_tokens"),
        )


def _response_input(value: str | list[dict[str, Any]]) -> list[dict[str, str]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    out = []
    for index, entry in enumerate(value):
        kind = entry.get("type", "message")
        role = entry.get("role")
        if kind != "message" or role not in ("system", "developer", "user", "assistant"):
            raise InvalidRequestError(
                f"input[{index}]: only messages with role system, developer, user or assistant are supported",
                param=f"input[{index}]",
            )
        content = _text(entry.get("content"), f"input[{index}].content")
        out.append({"role": "system" if role == "developer" else role, "content": content})
    if not out:
        raise InvalidRequestError("input: at least one message is required", param="input")
    return out


def _text_format(text: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Responses' ``text.format`` → chat's ``response_format``."""
    fmt = (text or {}).get("format") if isinstance(text, Mapping) else None
    if not isinstance(fmt, Mapping) or fmt.get("type") in (None, "text"):
        return None
    if fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        if not isinstance(schema, Mapping):
            raise InvalidRequestError(
                "text.format.schema: a JSON schema object is required", param="text.format.schema"
            )
        return {
            "type": "json_schema",
            "json_schema": {"name": fmt.get("name", "output"), "schema": dict(schema)},
        }
    return response_format(dict(fmt), "text.format")
