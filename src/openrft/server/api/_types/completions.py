"""``POST /v1/completions`` (OpenAI's legacy completions, with vLLM's token-level extensions) and
vLLM's ``/v1/load_lora_adapter`` / ``/v1/unload_lora_adapter``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from openrft.server.api._types.chat import CompletionUsage

TokenIds = list[Annotated[int, Field(ge=0)]]


class StructuredOutputs(BaseModel):
    """vLLM's ``structured_outputs``: one constraint on the generated text."""

    model_config = ConfigDict(extra="forbid")

    regex: str | None = None
    """The output matches this regular expression."""
    json_: dict[str, Any] | None = Field(default=None, alias="json")
    """The output is JSON that validates against this schema."""


class CreateCompletionRequest(BaseModel):
    """OpenAI's fields, plus vLLM's ``return_token_ids``, ``structured_outputs``,
    ``response_format``, ``add_special_tokens`` and ``skip_special_tokens``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model: str
    prompt: str | list[str] | TokenIds | list[TokenIds] = Field(min_length=1)
    """Text, several texts, token ids, or several lists of token ids (one choice set each)."""
    max_tokens: int | None = Field(default=16, ge=1)
    n: int = Field(default=1, ge=1, le=128)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    logprobs: int | None = Field(default=None, ge=0, le=20)
    """The sampled token's log-probability and this many alternatives per position."""
    stop: str | list[str] | None = None
    echo: Literal[False] = False
    """Echoing the prompt is not supported."""
    stream: Literal[False] = False
    """Streaming is not supported on this endpoint; use chat completions."""
    user: str | None = None
    return_token_ids: bool = False
    """vLLM: add ``prompt_token_ids`` and ``token_ids`` to each choice."""
    structured_outputs: StructuredOutputs | None = None
    response_format: dict[str, Any] | None = None
    add_special_tokens: bool = True
    """vLLM: let the tokenizer add its special tokens to a text prompt (token ids are used as given)."""
    skip_special_tokens: bool = True


class CompletionLogprobs(BaseModel):
    text_offset: list[int]
    token_logprobs: list[float | None]
    tokens: list[str]
    top_logprobs: list[dict[str, float] | None] | None = None


CompletionFinishReason = Literal["stop", "length", "content_filter"]
COMPLETION_FINISH_REASON = TypeAdapter[CompletionFinishReason](CompletionFinishReason)


class CompletionChoice(BaseModel):
    index: int
    text: str
    finish_reason: CompletionFinishReason
    logprobs: CompletionLogprobs | None = None
    token_ids: list[int] | None = None
    """vLLM's extension (with ``return_token_ids``): the generated tokens."""
    prompt_token_ids: list[int] | None = None
    """vLLM's extension (with ``return_token_ids``): the prompt's tokens."""


class TextCompletion(BaseModel):
    """OpenAI's ``Completion`` object (``object: "text_completion"``)."""

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: CompletionUsage
    system_fingerprint: str | None = None


class LoadLoRAAdapterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lora_name: str = Field(min_length=1, max_length=256)
    lora_path: str = Field(min_length=1, max_length=4096)
    load_inplace: bool = False
    """vLLM's flag; replacing a loaded adapter in place is refused here (load a new name)."""


class UnloadLoRAAdapterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lora_name: str = Field(min_length=1, max_length=256)
    lora_int_id: int | None = None
