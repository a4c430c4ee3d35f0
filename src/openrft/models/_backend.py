"""The one interface every sampling backend offers: ``n`` completions per conversation.

Evals, training rollouts and the server's chat endpoint call :class:`SamplingBackend` and
never care whether the model runs in this process (transformers), on vLLM, or behind an
OpenAI-compatible endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from openrft.models._generation import Completion, Generation
from openrft.models._local import LocalChatModel
from openrft.models._response_format import ResponseFormat, parse_response_format, response_format_problem

DEFAULT_MAX_TOKENS = 256
"""Tokens a local model generates when no limit is given."""

Message = Mapping[str, Any]
Conversation = Sequence[Message]


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling parameters shared by every backend (OpenAI's names where they exist)."""

    temperature: float | None = 1.0
    """None: the model's default (1.0 on local models; not sent to remote ones)."""
    top_p: float | None = 1.0
    """None: the model's default (1.0 on local models; not sent to remote ones)."""
    max_tokens: int | None = DEFAULT_MAX_TOKENS
    """None: no limit sent to remote models; local ones stop at :data:`DEFAULT_MAX_TOKENS`."""
    seed: int | None = None
    response_format: Mapping[str, Any] | None = None
    """OpenAI's ``response_format``; ``{"type": "json_schema", "json_schema": {"schema": …}}``
    (or ``{"type": "json_object"}``) constrains decoding on the local backends and is sent as
    it is to remote ones."""
    logprobs: int | None = None
    """Return each token's log-probability and this many alternatives (0–20); local backends."""
    logit_bias: Mapping[int, float] | None = None
    """OpenAI's ``logit_bias``: token id → a value added to its logit (-100 bans it)."""
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    """OpenAI's penalties on tokens already in the answer (local backends)."""
    tools: Sequence[Mapping[str, Any]] | None = None
    """OpenAI function tools shown to the model; its calls come back in ``Completion.tool_calls``."""
    tool_choice: Any = None
    """``none``, ``auto`` (the default), ``required`` or ``{"type": "function", "function": {"name"}}``."""
    parallel_tool_calls: bool = True
    max_time: float | None = None
    """Seconds after which generation stops (``finish_reason`` ``length``); local backends."""
    reasoning_effort: str | None = None
    """OpenAI's ``reasoning_effort``, sent to remote models; local ones do not reason on demand."""

    @property
    def constraint(self) -> ResponseFormat | None:
        """``response_format`` checked (:func:`parse_response_format`); None when it constrains nothing."""
        return parse_response_format(self.response_format)

    @property
    def json_schema(self) -> Mapping[str, Any] | None:
        """The JSON schema to constrain to, if ``response_format`` asks for one."""
        fmt = self.constraint
        return fmt.json_schema if fmt is not None else None

    def response_format_problem(self) -> str | None:
        """Why ``response_format`` cannot be decoded under, or None when it can (or is unset)."""
        return response_format_problem(self.response_format)


def local_sampling(options: GenerationOptions) -> dict[str, Any]:
    """The sampling arguments of :meth:`LocalChatModel.prepare`, defaults filled in."""
    return {
        "temperature": 1.0 if options.temperature is None else options.temperature,
        "top_p": 1.0 if options.top_p is None else options.top_p,
        "max_tokens": DEFAULT_MAX_TOKENS if options.max_tokens is None else options.max_tokens,
        "seed": options.seed,
    }


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


class LocalRun:
    """One generation on a :class:`LocalBackend`, seen from asyncio: its tokens as they come, then
    its completions. Leaving ``async with`` before it is over cancels it (a client that went away)."""

    def __init__(self, model: LocalChatModel, generation: Generation, *, stream: bool):
        self.model = model
        self.generation = generation
        self._loop = asyncio.get_running_loop()
        self._tokens: asyncio.Queue[tuple[int, int] | None] = asyncio.Queue()
        self._over = asyncio.Event()
        generation.listener = self._token if stream else None
        generation.on_finished = self._finished

    def _token(self, row: int, token: int) -> None:
        try:
            self._loop.call_soon_threadsafe(self._tokens.put_nowait, (row, token))
        except RuntimeError:  # the caller's event loop is gone: nobody reads this answer
            self.generation.cancel()

    def _finished(self) -> None:
        def over() -> None:
            self._tokens.put_nowait(None)
            self._over.set()

        with contextlib.suppress(RuntimeError):  # the caller's event loop is gone
            self._loop.call_soon_threadsafe(over)

    async def tokens(self) -> AsyncIterator[tuple[int, int]]:
        """``(row, token id)`` pairs as they are sampled, until the generation is over."""
        while (item := await self._tokens.get()) is not None:
            yield item

    async def result(self) -> list[list[Completion]]:
        """The completions, ``n`` per conversation, once the generation is over."""
        await self._over.wait()
        if self.generation.error is not None:
            raise self.generation.error
        return self.generation.completions(self.model._completion)

    def cancel(self) -> None:
        self.generation.cancel()

    async def __aenter__(self) -> LocalRun:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self.generation.finished.is_set():
            self.generation.cancel()


class LocalBackend:
    """A :class:`LocalChatModel` behind the backend interface.

    Requests take turns on the model (:class:`GenerationScheduler`): a long answer does not hold
    up a short one, and a request whose caller went away stops at its next token.
    """

    def __init__(self, model: LocalChatModel, *, name: str | None = None, slice_seconds: float = 0.25):
        from openrft.models._scheduler import GenerationScheduler

        self.model = model
        self.name = name or model.name
        self.scheduler = GenerationScheduler(model, slice_seconds=slice_seconds)

    async def start(
        self,
        conversations: Sequence[Conversation],
        *,
        n: int = 1,
        options: GenerationOptions,
        adapter: str | None = None,
        share: str | None = None,
        stream: bool = False,
    ) -> LocalRun:
        """Queue a generation; ``share`` groups requests that share the model fairly (a project);
        with ``stream`` its tokens can be read as they come (:meth:`LocalRun.tokens`)."""
        generation = await asyncio.to_thread(
            self.model.prepare,
            conversations,
            n=n,
            **local_sampling(options),
            json_schema=options.json_schema,
            adapter=adapter,
            logprobs=options.logprobs,
            logit_bias=options.logit_bias,
            frequency_penalty=options.frequency_penalty,
            presence_penalty=options.presence_penalty,
            tools=options.tools,
            tool_choice=options.tool_choice,
            parallel_tool_calls=options.parallel_tool_calls,
            max_time=options.max_time,
        )
        return self.submit(generation, share=share, stream=stream)

    def submit(self, generation: Generation, *, share: str | None = None, stream: bool = False) -> LocalRun:
        """Queue a generation built by the caller (token-id prompts, a regex constraint…)."""
        run = LocalRun(self.model, generation, stream=stream)
        self.scheduler.submit(generation, share)
        return run

    async def sample(
        self,
        conversations: Sequence[Conversation],
        *,
        n: int = 1,
        options: GenerationOptions,
        adapter: str | None = None,
        share: str | None = None,
    ) -> list[list[Completion]]:
        """See :class:`SamplingBackend`; ``adapter`` picks a LoRA adapter loaded on the model."""
        if not conversations:
            return []
        async with await self.start(conversations, n=n, options=options, adapter=adapter, share=share) as run:
            return await run.result()

    def close(self) -> None:
        self.scheduler.close()
        self.model.close()
