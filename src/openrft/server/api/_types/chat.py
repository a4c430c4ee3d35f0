"""``POST /v1/chat/completions`` (plain and streamed).

The request names every top-level parameter of OpenAI's: an unknown one is a 400 naming it, as
OpenAI answers; a known one openrft cannot honour is a 400 saying so (``chat.py``'s checks).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    """Text, or content parts (``{"type": "text", "text": …}``; text parts only)."""
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    """An assistant turn's calls: ``{"id", "type": "function", "function": {"name", "arguments"}}``."""
    tool_call_id: str | None = None
    """A tool turn: the call it answers."""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: bool | None = None
    include_obfuscation: bool | None = None
    """Accepted; openrft sends no obfuscation padding."""


class CreateChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    n: int | None = Field(default=None, ge=1, le=128)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    """Deprecated by OpenAI in favour of ``max_completion_tokens``; both are accepted."""
    max_completion_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    """``{"type": "text"}``, ``{"type": "json_object"}`` or
    ``{"type": "json_schema", "json_schema": {"schema": …}}`` (constrained decoding on local models)."""
    stop: str | list[str] | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    logit_bias: dict[str, float] | None = None
    """Token id (as a string) → a value from -100 to 100 added to its logit."""
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    tools: list[dict[str, Any]] | None = None
    """Function tools ``{"type": "function", "function": {"name", "description", "parameters"}}``,
    shown to the model through its chat template."""
    tool_choice: str | dict[str, Any] | None = None
    """``none``, ``auto``, ``required`` or ``{"type": "function", "function": {"name"}}``."""
    parallel_tool_calls: bool | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    prompt_cache_options: dict[str, Any] | None = None
    service_tier: str | None = None
    store: bool | None = None
    # Known to OpenAI, not honoured by openrft: anything but null/default is a 400 saying so.
    audio: dict[str, Any] | None = None
    modalities: list[str] | None = None
    prediction: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    verbosity: str | None = None
    web_search_options: dict[str, Any] | None = None
    moderation: dict[str, Any] | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None


class CompletionTokensDetails(BaseModel):
    reasoning_tokens: int = 0
    accepted_prediction_tokens: int = 0
    rejected_prediction_tokens: int = 0
    audio_tokens: int = 0


class PromptTokensDetails(BaseModel):
    cached_tokens: int = 0
    audio_tokens: int = 0


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    completion_tokens_details: CompletionTokensDetails = CompletionTokensDetails()
    prompt_tokens_details: PromptTokensDetails = PromptTokensDetails()


class TopLogprob(BaseModel):
    token: str
    bytes: list[int] | None = None
    logprob: float


class TokenLogprob(BaseModel):
    """The SDK's ``ChatCompletionTokenLogprob``: one generated token and its likeliest alternatives."""

    token: str
    bytes: list[int] | None = None
    logprob: float
    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprob] | None = None
    refusal: list[TokenLogprob] | None = None


class FunctionCall(BaseModel):
    name: str
    arguments: str
    """The arguments as a JSON text, as the model wrote them."""


class ToolCall(BaseModel):
    """The SDK's ``ChatCompletionMessageFunctionToolCall``."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatCompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None


FinishReason = Literal["stop", "length", "content_filter", "tool_calls"]
FINISH_REASON = TypeAdapter[FinishReason](FinishReason)
"""Checks a backend's ``finish_reason`` (a plain string) as the API's, as a field of a choice would."""


class Choice(BaseModel):
    index: int
    message: ChatCompletionMessage
    finish_reason: FinishReason
    logprobs: ChoiceLogprobs | None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    system_fingerprint: str | None = None
    service_tier: Literal["default"] | None = None
    metadata: dict[str, str] | None = None


class DeltaFunctionCall(BaseModel):
    name: str | None = None
    arguments: str | None = None


class DeltaToolCall(BaseModel):
    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: DeltaFunctionCall | None = None


class ChoiceDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[DeltaToolCall] | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: ChoiceDelta
    finish_reason: FinishReason | None = None
    logprobs: ChoiceLogprobs | None = None


class ChatCompletionChunk(BaseModel):
    """One ``data:`` line of a streamed completion (``text/event-stream``; ends with ``[DONE]``)."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: CompletionUsage | None = None
    system_fingerprint: str | None = None
    service_tier: Literal["default"] | None = None
