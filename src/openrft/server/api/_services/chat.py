"""Chat completions on any offered model: plain, or streamed token by token as they are sampled.

Every OpenAI parameter is honoured or refused: ``logprobs``/``top_logprobs``, ``logit_bias``,
the penalties, ``n`` (up to the server's ``max_n``), ``stop``, ``seed``, ``response_format``
(constrained decoding), ``tools``/``tool_choice``/``parallel_tool_calls`` (through the model's
chat template; a forced call is constrained decoding); audio, predictions, web search,
``reasoning_effort``, ``verbosity``, stored completions and the deprecated ``functions`` are a
400 (``UNSUPPORTED``).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from typing import Any, Literal

from openrft.errors import InvalidRequestError
from openrft.models import GenerationOptions, check_tools, parse_response_format
from openrft.server.api._services.generation import (
    Answer,
    Generator,
    Run,
    TokenInfo,
    Usage,
    check_unsupported,
    content_text,
    logit_bias,
)
from openrft.server.api._types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatMessage,
    Choice,
    ChoiceDelta,
    ChoiceLogprobs,
    ChunkChoice,
    CompletionTokensDetails,
    CompletionUsage,
    CreateChatCompletionRequest,
    DeltaFunctionCall,
    DeltaToolCall,
    FunctionCall,
    TokenLogprob,
    ToolCall,
    TopLogprob,
)
from openrft.store import now

UNSUPPORTED: dict[str, Any] = {
    "audio": (),
    "modalities": (["text"],),
    "prediction": (),
    "reasoning_effort": (),
    "verbosity": (),
    "web_search_options": (),
    "moderation": (),
    "store": (False,),
    "service_tier": ("auto", "default"),
    "functions": (),
    "function_call": (),
}
"""Known parameters openrft cannot honour → the values it accepts (besides null)."""


def chat_conversation(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """OpenAI chat messages → the dicts chat templates read (tool calls and tool turns kept)."""
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if message.role == "function":
            raise InvalidRequestError(
                f"messages[{index}].role: 'function' messages are deprecated by OpenAI; use 'tool' messages",
                param=f"messages[{index}].role",
            )
        role = "system" if message.role == "developer" else message.role
        content = message.content
        entry: dict[str, Any] = {
            "role": role,
            "content": "" if content is None else content_text(content, f"messages[{index}].content"),
        }
        if message.role == "tool":
            if not message.tool_call_id:
                raise InvalidRequestError(
                    f"messages[{index}].tool_call_id: a tool message answers a call; give its id",
                    param=f"messages[{index}].tool_call_id",
                )
            entry["tool_call_id"] = message.tool_call_id
        if message.tool_calls:
            entry["tool_calls"] = message.tool_calls
        out.append(entry)
    return out


def stop_sequences(stop: str | list[str] | None) -> list[str]:
    sequences = [stop] if isinstance(stop, str) else list(stop or [])
    if len(sequences) > 4:
        raise InvalidRequestError("stop: at most 4 sequences", param="stop")
    return [s for s in sequences if s]


def _usage(usage: Usage) -> CompletionUsage:
    return CompletionUsage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.prompt_tokens + usage.completion_tokens,
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=usage.reasoning_tokens),
    )


def _logprobs(tokens: list[TokenInfo] | None) -> ChoiceLogprobs | None:
    if tokens is None:
        return None
    return ChoiceLogprobs(
        content=[
            TokenLogprob(
                token=t.token,
                bytes=list(t.bytes),
                logprob=t.logprob,
                top_logprobs=[TopLogprob(token=a, bytes=list(b), logprob=v) for a, b, v in t.top],
            )
            for t in tokens
        ]
    )


def _tool_calls(answer: Answer) -> list[ToolCall] | None:
    calls = answer.completion.tool_calls
    if not calls:
        return None
    return [ToolCall(id=c.id, function=FunctionCall(name=c.name, arguments=c.arguments)) for c in calls]


class ChatService:
    def __init__(self, generator: Generator):
        self.generator = generator

    def _prepare(
        self, request: CreateChatCompletionRequest
    ) -> tuple[list[dict[str, Any]], int, GenerationOptions]:
        check_unsupported(request, UNSUPPORTED, "chat completions")
        if request.top_logprobs is not None and not request.logprobs:
            raise InvalidRequestError("top_logprobs needs logprobs: true", param="top_logprobs")
        tools = check_tools(request.tools) if request.tools else None
        if request.tool_choice is not None and not tools and request.tool_choice != "none":
            raise InvalidRequestError("tool_choice needs tools", param="tool_choice")
        fmt = parse_response_format(request.response_format)
        options = self.generator.options(
            temperature=request.temperature,
            top_p=request.top_p,
            max_tokens=self.generator.max_tokens(
                request.max_completion_tokens or request.max_tokens,
                "max_completion_tokens" if request.max_completion_tokens else "max_tokens",
            ),
            seed=request.seed,
            response_format=fmt.wire if fmt is not None else None,
            logprobs=(request.top_logprobs or 0) if request.logprobs else None,
            logit_bias=logit_bias(request.logit_bias),
            frequency_penalty=request.frequency_penalty,
            presence_penalty=request.presence_penalty,
            tools=tools,
            tool_choice=request.tool_choice,
            parallel_tool_calls=request.parallel_tool_calls,
        )
        return chat_conversation(request.messages), self.generator.n(request.n), options

    def _run(self, request: CreateChatCompletionRequest, *, stream: bool) -> Any:
        conversation, n, options = self._prepare(request)
        stop = stop_sequences(request.stop)
        return self.generator.run(request.model, conversation, n=n, options=options, stop=stop, stream=stream)

    async def complete(self, request: CreateChatCompletionRequest) -> ChatCompletion:
        async with self._run(request, stream=False) as run:
            answers = await run.answers()
        return ChatCompletion(
            id=f"chatcmpl-{secrets.token_hex(12)}",
            created=now(),
            model=request.model,
            choices=[
                Choice(
                    index=i,
                    message=ChatCompletionMessage(
                        content=None if a.completion.tool_calls and not a.text else a.text,
                        tool_calls=_tool_calls(a),
                    ),
                    finish_reason=a.finish_reason,
                    logprobs=_logprobs(a.logprobs),
                )
                for i, a in enumerate(answers)
            ],
            usage=_usage(Usage.of(answers)),
            metadata=request.metadata,
        )

    async def stream(self, request: CreateChatCompletionRequest) -> AsyncIterator[str]:
        """The server-sent events of the answer, each piece sent as soon as it is written.

        The model is opened and the generation queued before this returns, so a bad request is
        an HTTP error, not a broken stream; closing the stream (the client left) cancels it.
        """
        stack = AsyncExitStack()
        run: Run = await stack.enter_async_context(self._run(request, stream=True))
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        return self._events(request, run, stack, include_usage)

    async def _events(
        self, request: CreateChatCompletionRequest, run: Run, stack: AsyncExitStack, include_usage: bool
    ) -> AsyncIterator[str]:
        ident, created = f"chatcmpl-{secrets.token_hex(12)}", now()

        def chunk(choices: list[ChunkChoice], usage: CompletionUsage | None = None) -> str:
            body = ChatCompletionChunk(
                id=ident, created=created, model=request.model, choices=choices, usage=usage
            )
            return f"data: {body.model_dump_json(exclude_unset=False)}\n\n"

        async with stack:
            started: set[int] = set()
            async for index, piece in run.pieces():
                role: Literal["assistant"] | None = None if index in started else "assistant"
                started.add(index)
                yield chunk([ChunkChoice(index=index, delta=ChoiceDelta(role=role, content=piece))])
            answers = await run.answers()
            for index, answer in enumerate(answers):
                if index not in started:
                    yield chunk([ChunkChoice(index=index, delta=ChoiceDelta(role="assistant", content=""))])
                for position, call in enumerate(_tool_calls(answer) or []):
                    delta = DeltaToolCall(
                        index=position,
                        id=call.id,
                        type="function",
                        function=DeltaFunctionCall(
                            name=call.function.name, arguments=call.function.arguments
                        ),
                    )
                    yield chunk([ChunkChoice(index=index, delta=ChoiceDelta(tool_calls=[delta]))])
                finish = ChunkChoice(
                    index=index,
                    delta=ChoiceDelta(),
                    finish_reason=answer.finish_reason,
                    logprobs=_logprobs(answer.logprobs),  # all of the choice's tokens, with its last chunk
                )
                yield chunk([finish])
            if include_usage:
                yield chunk([], _usage(Usage.of(answers)))
            yield "data: [DONE]\n\n"
