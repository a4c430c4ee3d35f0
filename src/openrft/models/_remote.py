"""Sampling from an OpenAI-compatible ``/v1/chat/completions`` endpoint (OpenAI, vLLM, SGLang…).

Built on the official ``openai`` client, which retries 408/409/429/5xx answers and connection
errors with exponential backoff (honouring ``Retry-After``) and enforces a per-request
timeout. On top of it:

* a semaphore per event loop caps the requests in flight (``concurrency``);
* ``n`` completions per conversation are asked for in one request; when the endpoint rejects
  ``n > 1`` (HTTP 400/422) or returns fewer choices, the rest come from one-choice requests,
  seeded ``seed + k`` so that they differ and still reproduce. A rejection is remembered;
* the limit is sent as ``max_completion_tokens`` (OpenAI's current name) and, when an
  endpoint rejects that field by name, as ``max_tokens`` from then on;
* token usage: a response's ``completion_tokens`` covers all its choices, so with several
  choices it is shared out by text length (sums stay exact). Reasoning tokens come from
  ``completion_tokens_details.reasoning_tokens``, else are estimated from a separate
  ``reasoning_content``/``reasoning`` field or the ``<think>`` part of the text.

Each :meth:`RemoteBackend.sample` call opens and closes its own client: an httpx client
belongs to the event loop it first ran on, and callers (evals, training steps) may each run
their own loop. Failures raise :class:`BackendUnavailable` naming the status, URL and model.
``openai`` is imported on first use (it takes ~0.4 s).
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from openrft.errors import BackendUnavailable, InvalidRequestError
from openrft.models._backend import Conversation, GenerationOptions
from openrft.models._generation import Completion
from openrft.models._reasoning import estimate_reasoning_tokens
from openrft.models._tools import ToolCall

if TYPE_CHECKING:
    import openai

_REJECTED = (400, 422)
"""Statuses with which servers refuse a parameter they do not support."""


class RemoteBackend:
    """Chat completions from an OpenAI-compatible endpoint, behind :class:`SamplingBackend`.

    Args:
        base_url: the API root, e.g. ``http://localhost:8000/v1``.
        model: the model name the endpoint serves (sent as ``model``; also :attr:`name`).
        api_key: sent as the bearer token; default ``OPENAI_API_KEY`` or a placeholder.
        concurrency: requests in flight at once (per event loop).
        max_retries: retries of a failed request (429, 5xx, timeouts, connection errors).
        timeout: seconds before one request is abandoned (then retried).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        concurrency: int = 8,
        max_retries: int = 3,
        timeout: float = 60.0,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise InvalidRequestError(f"base_url {base_url!r} must start with http:// or https://")
        if not model:
            raise InvalidRequestError("the remote model name is empty", param="model")
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise InvalidRequestError(
                f"need concurrency >= 1, max_retries >= 0 and timeout > 0; got {concurrency}, "
                f"{max_retries}, {timeout}"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = model
        self.api_key = api_key
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.timeout = timeout
        self._send_n = True
        self._limit_field = "max_completion_tokens"
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _client(self) -> openai.AsyncOpenAI:
        import openai

        return openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop not in self._semaphores:
            self._semaphores[loop] = asyncio.Semaphore(self.concurrency)
        return self._semaphores[loop]

    async def sample(
        self, conversations: Sequence[Conversation], *, n: int = 1, options: GenerationOptions
    ) -> list[list[Completion]]:
        """``n`` completions for each conversation; raises :class:`BackendUnavailable`."""
        if n < 1:
            raise InvalidRequestError(f"n must be >= 1, got {n}", param="n")
        if not conversations:
            return []
        async with self._client() as client:
            try:
                async with asyncio.TaskGroup() as group:
                    tasks = [
                        group.create_task(self._sample_one(client, c, n, options)) for c in conversations
                    ]
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

        params: dict[str, Any] = {"temperature": options.temperature, "top_p": options.top_p}
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
        async with self._semaphore():
            while True:
                field = self._limit_field
                try:
                    response = await client.chat.completions.create(
                        model=self.model,
                        messages=messages,  # type: ignore[arg-type]
                        **params,
                        **{field: options.max_tokens},
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
        import openai

        where = f"{self.url} (model {self.model!r})"
        if isinstance(exc, openai.APIStatusError):
            retried = exc.status_code in (408, 409, 429) or exc.status_code >= 500
            return BackendUnavailable(
                f"{where} answered HTTP {exc.status_code}{self._after(retried)}: {exc.message}",
                code="remote_http_error",
            )
        if isinstance(exc, openai.APITimeoutError):
            return BackendUnavailable(
                f"{where} did not answer within {self.timeout:g} s{self._after(True)}", code="remote_timeout"
            )
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return BackendUnavailable(
                f"cannot reach {where}{self._after(True)}: {cause}", code="remote_unreachable"
            )
        return BackendUnavailable(f"{where} failed: {type(exc).__name__}: {exc}", code="remote_error")

    def _after(self, retried: bool) -> str:
        if not retried or not self.max_retries:
            return ""
        return f" (after {self.max_retries} retr{'y' if self.max_retries == 1 else 'ies'})"

    def close(self) -> None:
        """Nothing is held between calls (each :meth:`sample` closes its client)."""


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
    return [
        Completion(
            text=text,
            prompt_tokens=prompt,
            completion_tokens=count,
            finish_reason=str(choice.finish_reason or "stop"),
            reasoning_tokens=min(thought, count),
            tool_calls=_tool_calls(choice.message),
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
