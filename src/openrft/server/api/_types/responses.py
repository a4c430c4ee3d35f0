"""``/v1/responses``: create (plain or streamed), retrieve, delete, cancel, input items.

The request names every top-level parameter of OpenAI's: an unknown one is a 400 naming it; a
known one openrft cannot honour is a 400 saying so (``responses.py``'s checks).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CreateResponseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    input: str | list[dict[str, Any]]
    """A string (one user message) or a list of items: messages (``{"role", "content"}``, content
    as a string or ``input_text`` parts), ``function_call`` and ``function_call_output`` items."""
    instructions: str | None = None
    """A system message put first (not carried over by ``previous_response_id``, as on OpenAI)."""
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    text: dict[str, Any] | None = None
    """``{"format": {"type": "json_schema", "name", "schema"}}`` constrains the output."""
    metadata: dict[str, str] | None = None
    stream: bool | None = False
    stream_options: dict[str, Any] | None = None
    previous_response_id: str | None = None
    """Continue the stored conversation of that response (its input and output come first)."""
    store: bool | None = True
    """Keep the response, retrievable and continuable (OpenAI's default); false keeps nothing."""
    tools: list[dict[str, Any]] | None = None
    """Function tools ``{"type": "function", "name", "description", "parameters"}``."""
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    max_tool_calls: int | None = Field(default=None, ge=1)
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    include: list[str] | None = None
    """``message.output_text.logprobs`` adds each output token's log-probability."""
    truncation: str | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    prompt_cache_options: dict[str, Any] | None = None
    service_tier: str | None = None
    # Known to OpenAI, not honoured by openrft: anything but null/default is a 400 saying so.
    background: bool | None = None
    background_options: dict[str, Any] | None = None
    conversation: str | dict[str, Any] | None = None
    context_management: list[dict[str, Any]] | None = None
    prompt: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    moderation: dict[str, Any] | None = None
    image: dict[str, Any] | None = None
    access_programs: dict[str, Any] | None = None


class TopLogprob(BaseModel):
    token: str
    bytes: list[int]
    logprob: float


class Logprob(BaseModel):
    token: str
    bytes: list[int]
    logprob: float
    top_logprobs: list[TopLogprob]


class OutputText(BaseModel):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[Any] = []
    logprobs: list[Logprob] | None = None


class InputText(BaseModel):
    type: Literal["input_text"] = "input_text"
    text: str


ItemStatus = Literal["in_progress", "completed", "incomplete"]


class OutputMessage(BaseModel):
    id: str
    type: Literal["message"] = "message"
    status: ItemStatus
    role: Literal["assistant"] = "assistant"
    content: list[OutputText]


class InputMessage(BaseModel):
    """An input message as ``input_items`` lists it (the SDK's ``ResponseInputMessageItem``)."""

    id: str
    type: Literal["message"] = "message"
    status: Literal["completed"] = "completed"
    role: Literal["user", "system", "developer"]
    content: list[InputText]


class FunctionCall(BaseModel):
    """A tool call the model made (the SDK's ``ResponseFunctionToolCall``)."""

    id: str
    type: Literal["function_call"] = "function_call"
    call_id: str
    name: str
    arguments: str
    status: Literal["in_progress", "completed", "incomplete"] = "completed"


class FunctionCallOutput(BaseModel):
    """A tool's answer given back as input (the SDK's ``ResponseFunctionToolCallOutputItem``)."""

    id: str
    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    output: str
    status: Literal["in_progress", "completed", "incomplete"] = "completed"


OutputItem = OutputMessage | FunctionCall
InputItem = InputMessage | OutputMessage | FunctionCall | FunctionCallOutput


class InputTokensDetails(BaseModel):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(BaseModel):
    reasoning_tokens: int = 0


class ResponseUsage(BaseModel):
    input_tokens: int
    input_tokens_details: InputTokensDetails = InputTokensDetails()
    output_tokens: int
    output_tokens_details: OutputTokensDetails = OutputTokensDetails()
    total_tokens: int


class IncompleteDetails(BaseModel):
    reason: Literal["max_output_tokens", "content_filter"]


class Response(BaseModel):
    """The SDK's ``Response``; its ``output_text`` property joins the output's text."""

    id: str
    object: Literal["response"] = "response"
    created_at: int
    status: Literal["completed", "incomplete", "in_progress", "cancelled", "failed", "queued"]
    model: str
    output: list[OutputItem]
    usage: ResponseUsage | None = None
    instructions: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    max_tool_calls: int | None = None
    metadata: dict[str, str] = {}
    text: dict[str, Any] = {"format": {"type": "text"}}
    error: None = None
    incomplete_details: IncompleteDetails | None = None
    parallel_tool_calls: bool = True
    tool_choice: str | dict[str, Any] = "auto"
    tools: list[dict[str, Any]] = []
    previous_response_id: str | None = None
    store: bool = True
    background: bool = False
    truncation: Literal["disabled"] = "disabled"
    top_logprobs: int | None = None
    user: str | None = None


class ResponseItemList(BaseModel):
    """A page of a response's input items (``GET /v1/responses/{id}/input_items``)."""

    object: Literal["list"] = "list"
    data: list[InputItem]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


class DeletedResponse(BaseModel):
    id: str
    object: Literal["response"] = "response"
    deleted: bool = True
