"""Sampling from an OpenAI-compatible ``/v1/chat/completions`` endpoint (OpenAI, vLLM, SGLang…).

Calls go through an :class:`~openrft.models.OpenAIEndpoint` (retries with backoff, a
per-request timeout, a cap on requests in flight per event loop, one-line failures). On top:

* ``n`` completions per conversation are asked for in one request; when the endpoint rejects
  ``n > 1`` (HTTP 400/422) or returns fewer choices, the rest come from one-choice requests,
  seeded ``seed + k`` so that they differ and still reproduce. A rejection is remembered;
* the limit is sent as ``max_completion_tokens`` (OpenAI's current name) and, when an
  endpoint rejects that field by name, as ``max_tokens`` from then on; options left None
  (temperature, top_p, the limit) are not sent, so the endpoint's defaults apply;
* token usage: a response's ``completion_tokens`` covers all its choices, so with several
  choices it is shared out by text length (sums stay exact). Reasoning tokens come from
  ``completion_tokens_details.reasoning_tokens``, else are estimated from a separate
  ``reasoning_content``/``reasoning`` field or the ``<think>`` part of the text. Cached prompt
  tokens, a refusal and the model the endpoint reports are kept on each completion.

Failures raise :class:`BackendUnavailable` naming the status, URL and model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from openrft.errors import BackendUnavailable, InvalidRequestError
from openrft.models._backend import Conversation, GenerationOptions
from openrft.models._generation import Completion
from openrft.models._openai_client import OpenAIEndpoint
from openrft.models._reasoning import estimate_reasoning_tokens
from openrft.models._tools import ToolCall

if TYPE_CHECKING:
    import openai

_REJECTED = (400, 422)
"""Statuses with which servers refuse a parameter they do not support."""


class RemoteBackend:
    """Chat completions from an OpenAI-compatible endpoint, behind :class:`SamplingBackend`.

    Args:
        base_url: the API root, e.g. ``http://localhost:8000/v1``, or an :class:`OpenAIEndpoint`
            that other backends share (its key and limits apply; the other arguments are unused).
        model: the model name the endpoint serves (sent as ``model``; also :attr:`name`).
        api_key: sent as the bearer token; default ``OPENAI_API_KEY`` or a placeholder.
        concurrency: requests in flight at once (per event loop).
        max_retries: retries of a failed request (429, 5xx, timeouts, connection errors).
        timeout: seconds before one request is abandoned (then retried).
    """

    def __init__(
        self,
        base_url: str | OpenAIEndpoint,
        model: str,
        *,
        api_key: str | None = None,
        concurrency: int = 8,
        max_retries: int = 3,
        timeout: float = 60.0,
    ):
        if not model:
            raise InvalidRequestError("the remote model name is empty", param="model")
        self._owns_endpoint = not isinstance(base_url, OpenAIEndpoint)
        self.endpoint = (
            base_url
            if isinstance(base_url, OpenAIEndpoint)
            else OpenAIEndpoint(
                base_url, api_key=api_key, timeout=timeout, max_retries=max_retries, concurrency=concurrency
            )
        )
        self.model = model
        self.name = model
        self._send_n = True
        self._limit_field = "max_completion_tokens"

    @property
    def base_url(self) -> str:
        return self.endpoint.base_url

    @property
    def url(self) -> str:
        return f"{self.endpoint.base_url}/chat/completions"

    async def sample(
        self, conversations: Sequence[Conversation], *, n: int = 1, options: GenerationOptions
    ) -> list[list[Completion]]:
        """``n`` completions for each conversation; raises :class:`BackendUnavailable`."""
        if n < 1:
            raise InvalidRequestError(f"n must be >= 1, got {n}", param="n")
        if not conversations:
            return []
        client = (await self.endpoint.session()).client
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._sample_one(client, c, n, options)) for c in conversations]
        except BaseExceptionGroup as failures:  # the first failure; the others were cancelled
            raise failures.exceptions[0] from None
        return [task.result() for task in tasks]

    async def _sample_one(
        self, client: openai.AsyncOpenAI, conversation: Conversation, n: int, options: GenerationOptions
    ) -> list[Completion]:
        import openai

        messages = [dict(message) for message in conversation]
        completions: list[Completion] = []
        if n > 1 and self._send_n:
            try:
                completions = await self._request(client, messages, options, n=n, seed=options.seed)
            except openai.APIStatusError as exc:
                if exc.status_code not in _REJECTED:
                    raise self._unavailable(exc) from None
                singles = await self._singles(client, messages, options, start=0, count=n)
                self._send_n = False  # one-choice requests work where n > 1 did not
                return singles
        missing = n - len(completions)
        if missing:
            completions += await self._singles(
                client, messages, options, start=len(completions), count=missing
            )
        return completions[:n]

    async def _singles(
        self,
        client: openai.AsyncOpenAI,
        messages: list[dict[str, Any]],
        options: GenerationOptions,
        *,
        start: int,
        count: int,
    ) -> list[Completion]:
        """``count`` one-choice requests, the k-th seeded ``seed + start + k``."""
        import openai

        async def one(k: int) -> list[Completion]:
            seed = None if options.seed is None else options.seed + start + k
            try:
                return await self._request(client, messages, options, n=1, seed=seed)
            except openai.APIStatusError as exc:
                raise self._unavailable(exc) from None

        rows = await asyncio.gather(*(one(k) for k in range(count)))
        if any(not row for row in rows):
            raise BackendUnavailable(f"{self.url} returned no choices for model {self.model!r}")
        return [row[0] for row in rows]

    async def _request(
        self,
        client: openai.AsyncOpenAI,
        messages: list[dict[str, Any]],
        options: GenerationOptions,
        *,
        n: int,
        seed: int | None,
    ) -> list[Completion]:
        """One chat-completions request; status errors other than a limit-field rejection propagate."""
        import openai

        params: dict[str, Any] = {}
        for name in ("temperature", "top_p", "reasoning_effort"):
            if getattr(options, name) is not None:
                params[name] = getattr(options, name)
        if n > 1:
            params["n"] = n
        if seed is not None:
            params["seed"] = seed
        if options.response_format is not None:
            params["response_format"] = dict(options.response_format)
        if options.tools:
            params["tools"] = [dict(t) for t in options.tools]
            if options.tool_choice is not None:
                params["tool_choice"] = options.tool_choice
            params["parallel_tool_calls"] = options.parallel_tool_calls
        if options.logit_bias:
            params["logit_bias"] = {str(k): v for k, v in options.logit_bias.items()}
        for name in ("frequency_penalty", "presence_penalty"):
            if getattr(options, name):
                params[name] = getattr(options, name)
        async with (await self.endpoint.session()).limit:
            while True:
                field = self._limit_field
                limit: dict[str, Any] = {} if options.max_tokens is None else {field: options.max_tokens}
                try:
                    response = await client.chat.completions.create(
                        model=self.model,
                        messages=messages,  # type: ignore[arg-type]  # openai stubs: its message TypedDicts
                        **params,
                        **limit,
                    )
                    break
                except openai.APIStatusError as exc:
                    if (
                        field == "max_completion_tokens"
                        and exc.status_code in _REJECTED
                        and field in str(exc)
                    ):
                        self._limit_field = "max_tokens"  # an older server: use the older name
                        continue
                    raise
                except openai.OpenAIError as exc:
                    raise self._unavailable(exc) from None
        return _completions(response)

    def _unavailable(self, exc: openai.OpenAIError) -> BackendUnavailable:
        return self.endpoint.failure(exc, f"{self.url} (model {self.model!r})")

    def close(self) -> None:
        """Close the endpoint's clients (unless the endpoint was given: its owner closes it)."""
        if self._owns_endpoint:
            self.endpoint.close()


def _completions(response: Any) -> list[Completion]:
    """The response's choices as completions, with usage shared out among them."""
    choices = sorted(response.choices or [], key=lambda choice: choice.index)
    usage = response.usage
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    generated = int(getattr(usage, "completion_tokens", 0) or 0)
    details = getattr(usage, "completion_tokens_details", None)
    reported = int(getattr(details, "reasoning_tokens", 0) or 0)
    texts = [choice.message.content or "" for choice in choices]
    thoughts = [_reasoning_text(choice.message) for choice in choices]
    tokens = _share(generated, [len(t) + len(r or "") for t, r in zip(texts, thoughts, strict=True)])
    estimated = [
        estimate_reasoning_tokens(count, text, thought)
        for count, text, thought in zip(tokens, texts, thoughts, strict=True)
    ]
    reasoning = _share(reported, estimated if any(estimated) else tokens) if reported else estimated
    cached = int(getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", 0) or 0)
    return [
        Completion(
            text=text,
            prompt_tokens=prompt,
            completion_tokens=count,
            finish_reason=str(choice.finish_reason or "stop"),
            reasoning_tokens=min(thought, count),
            tool_calls=_tool_calls(choice.message),
            cached_tokens=cached,
            refusal=getattr(choice.message, "refusal", None) or None,
            model=response.model or None,
        )
        for choice, text, count, thought in zip(choices, texts, tokens, reasoning, strict=True)
    ]


def _tool_calls(message: Any) -> tuple[ToolCall, ...]:
    """The function calls of a reply, as local models report them."""
    calls = getattr(message, "tool_calls", None) or []
    return tuple(
        ToolCall(call.function.name, call.function.arguments, call.id)
        for call in calls
        if getattr(call, "function", None) is not None
    )


def _reasoning_text(message: Any) -> str | None:
    """A reasoning part returned beside the content (vLLM and DeepSeek name it differently)."""
    for name in ("reasoning_content", "reasoning"):
        value = getattr(message, name, None)  # unknown fields are kept as attributes
        if isinstance(value, str) and value:
            return value
    return None


def _share(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders; equal parts if all are 0)."""
    if not weights:
        return []
    if sum(weights) <= 0:
        weights = [1] * len(weights)
    scale = sum(weights)
    exact = [total * weight / scale for weight in weights]
    parts = [int(value) for value in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts
