"""The one interface every sampling backend offers: ``n`` completions per conversation.

Evals, training rollouts and the server's chat endpoint call :class:`SamplingBackend` and
never care whether the model runs in this process (transformers), on vLLM, or behind an
OpenAI-compatible endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from openrft.models._local import Completion, LocalChatModel

Message = Mapping[str, Any]
Conversation = Sequence[Message]


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling parameters shared by every backend (OpenAI's names where they exist)."""

    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int | None = None
    response_format: Mapping[str, Any] | None = None
    """OpenAI's ``response_format``; ``{"type": "json_schema", "json_schema": {"schema": …}}``
    (or ``{"type": "json_object"}``) constrains decoding on the local backends and is sent as
    it is to remote ones."""
    logprobs: int | None = None
    """Return each token's log-probability and this many alternatives (0–20); local backends."""

    @property
    def json_schema(self) -> Mapping[str, Any] | None:
        """The JSON schema to constrain to, if ``response_format`` asks for one."""
        fmt = self.response_format
        if not isinstance(fmt, Mapping):
            return None
        if fmt.get("type") == "json_object":
            return {"type": "object"}
        if fmt.get("type") != "json_schema":
            return None
        spec = fmt.get("json_schema") or {}
        return spec.get("schema") if isinstance(spec, Mapping) else None

    def response_format_problem(self) -> str | None:
        """Why ``response_format`` cannot be decoded under, or None when it can (or is unset)."""
        fmt = self.response_format
        if fmt is None or self.json_schema is not None:
            return None
        kind = fmt.get("type") if isinstance(fmt, Mapping) else type(fmt).__name__
        return f"type {kind!r}: use json_schema (with json_schema.schema) or json_object"


@runtime_checkable
class SamplingBackend(Protocol):
    """Something that writes chat completions."""

    name: str
    """The model name reported back (``model`` in responses, ``sampled_model_name``)."""

    async def sample(
        self, conversations: Sequence[Conversation], *, n: int = 1, options: GenerationOptions
    ) -> list[list[Completion]]:
        """``n`` completions for each conversation, in order."""
        ...

    def close(self) -> None:
        """Release weights, connections and threads."""
        ...


class LocalBackend:
    """A :class:`LocalChatModel` behind the backend interface (one batch at a time, off the loop)."""

    def __init__(self, model: LocalChatModel, *, name: str | None = None):
        self.model = model
        self.name = name or model.name

    async def sample(
        self,
        conversations: Sequence[Conversation],
        *,
        n: int = 1,
        options: GenerationOptions,
        adapter: str | None = None,
    ) -> list[list[Completion]]:
        """See :class:`SamplingBackend`; ``adapter`` picks a LoRA adapter loaded on the model."""
        return await asyncio.to_thread(
            self.model.generate,
            conversations,
            n=n,
            temperature=options.temperature,
            top_p=options.top_p,
            max_tokens=options.max_tokens,
            seed=options.seed,
            json_schema=options.json_schema,
            adapter=adapter,
            logprobs=options.logprobs,
        )

    def close(self) -> None:
        self.model.close()
