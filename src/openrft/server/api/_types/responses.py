"""``POST /v1/responses`` (plain, text output)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CreateResponseRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    input: str | list[dict[str, Any]]
    """A string (one user message) or a list of messages (``{"role", "content"}``, content as a
    string or ``input_text`` parts)."""
    instructions: str | None = None
    """A system message put first."""
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    text: dict[str, Any] | None = None
    """``{"format": {"type": "json_schema", "name", "schema"}}`` constrains the output."""
    metadata: dict[str, str] | None = None
    stream: bool = False


class OutputText(BaseModel):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[Any] = []


class OutputMessage(BaseModel):
    id: str
    type: Literal["message"] = "message"
    status: Literal["completed", "incomplete"]
    role: Literal["assistant"] = "assistant"
    content: list[OutputText]


class InputTokensDetails(BaseModel):
    cached_tokens: int = 0


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
    status: Literal["completed", "incomplete"]
    model: str
    output: list[OutputMessage]
    usage: ResponseUsage
    instructions: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    metadata: dict[str, str] = {}
    text: dict[str, Any] = {"format": {"type": "text"}}
    error: None = None
    incomplete_details: IncompleteDetails | None = None
    parallel_tool_calls: bool = False
    tool_choice: str = "none"
    tools: list[Any] = []
