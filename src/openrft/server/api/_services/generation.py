"""What chat completions and responses share: limits, sampling options, and running one
conversation on whatever serves the model, whole or token by token.

**Bounded work.** ``max_tokens`` above the server's ``max_completion_tokens`` is a 400, and it
is cut to the context the prompt leaves; ``n`` is at most ``max_n``; every generation stops
after ``max_generation_seconds`` (``finish_reason`` ``length``) or as soon as its request is
cancelled (the client went away); requests on one model take turns (``openrft.models``'s
scheduler), shared fairly between projects.

**Streaming.** On a model that runs here, each token is turned into text as it is sampled
(an incremental detokenizer: text is held back while a multi-byte character is incomplete,
or while it could be the start of a ``stop`` sequence or of a tool call); on a remote model
the whole answer comes as one piece. Either way the pieces of a choice join to its final text.
"""

from __future__ import annotations

import builtins
import math
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from openrft.errors import InvalidRequestError
from openrft.models import Completion, GenerationOptions, LocalChatModel
from openrft.server._shared import ServerSettings
from openrft.server.api._services.serving import ServingModels, as_local
from openrft.server.api._types.chat import FINISH_REASON, FinishReason


@dataclass(frozen=True)
class TokenInfo:
    """One generated token for ``logprobs``: its text, bytes, log-probability and alternatives."""

    token: str
    bytes: bytes
    logprob: float
    top: list[tuple[str, builtins.bytes, float]]  # builtins.: ``bytes`` here is the field above


def content_text(content: Any, param: str) -> str:
    """A message's content as text: a string, or its text parts joined (other parts are refused
    by name)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequestError(f"{param}: a string or a list of text parts is required", param=param)
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


@dataclass
class Answer:
    """One finished choice."""

    text: str
    finish_reason: FinishReason
    """``stop``, ``length`` or ``tool_calls``."""
    completion: Completion
    logprobs: list[TokenInfo] | None = None


def check_unsupported(request: Any, fields: Mapping[str, Any], what: str) -> None:
    """A 400 for each known parameter openrft cannot honour that is set to something else than
    its default (``fields``: name → the accepted value, or a tuple of them)."""
    for name, accepted in fields.items():
        value = getattr(request, name)
        allowed = accepted if isinstance(accepted, tuple) else (accepted,)
        if value is not None and value not in allowed:
            raise InvalidRequestError(
                f"{name} is not supported by openrft's {what} (got {value!r}); leave it unset",
                param=name,
                code="unsupported_parameter",
            )


def logit_bias(value: Mapping[str, float] | None, param: str = "logit_bias") -> dict[int, float] | None:
    """OpenAI's ``logit_bias`` (token id strings → -100…100) as token ids."""
    if not value:
        return None
    out = {}
    for key, bias in value.items():
        if not key.isdigit():
            raise InvalidRequestError(f"{param}: {key!r} is not a token id", param=param)
        if not -100 <= bias <= 100:
            raise InvalidRequestError(f"{param}[{key}]: {bias} is outside -100…100", param=param)
        out[int(key)] = float(bias)
    return out


class Generator:
    """Runs conversations on the models a server offers, within the server's limits."""

    def __init__(self, serving: ServingModels, settings: ServerSettings):
        self.serving = serving
        self.settings = settings

    def max_tokens(self, value: int | None, param: str) -> int:
        """The request's token limit, or the server's default; a 400 above the server's cap."""
        cap = self.settings.max_completion_tokens
        if value is not None and value > cap:
            raise InvalidRequestError(
                f"{param} is too large: {value}. This server allows at most {cap} completion tokens "
                "(OPENRFT_MAX_COMPLETION_TOKENS).",
                param=param,
                code="invalid_value",
            )
        return value or min(self.settings.default_max_tokens, cap)

    def n(self, value: int | None) -> int:
        n = value or 1
        if n > self.settings.max_n:
            raise InvalidRequestError(
                f"n is too large: {n}. This server allows at most {self.settings.max_n} (OPENRFT_MAX_N).",
                param="n",
                code="invalid_value",
            )
        return n

    def options(self, *, temperature: float | None, top_p: float | None, **values: Any) -> GenerationOptions:
        """Sampling options under the server's time limit; ``top_p`` 0 means greedy, as on OpenAI."""
        top_p = 1.0 if top_p is None else top_p
        return GenerationOptions(
            temperature=0.0 if top_p == 0 else (1.0 if temperature is None else temperature),
            top_p=top_p or 1.0,
            max_time=self.settings.max_generation_seconds,
            **{k: v for k, v in values.items() if v is not None},
        )

    @asynccontextmanager
    async def run(
        self,
        model: str,
        conversation: list[dict[str, Any]],
        *,
        n: int,
        options: GenerationOptions,
        stop: Sequence[str] = (),
        stream: bool = False,
    ) -> AsyncIterator[Run]:
        """One conversation's ``n`` answers under way; leaving the block early cancels them."""
        async with self.serving.backend(model) as backend:
            local = as_local(backend)
            if local is None:
                if options.logprobs is not None:
                    raise InvalidRequestError(
                        f"logprobs are not available for {model!r}, which is served by another server",
                        param="logprobs",
                    )
                yield _RemoteRun(backend, conversation, n, options, stop)
                return
            share = caller_project()
            started = await local.backend.start(  # stop sequences are watched in the text as it comes
                [conversation],
                n=n,
                options=options,
                adapter=local.adapter,
                share=share,
                stream=stream or bool(stop),
            )
            async with started:
                yield _LocalRun(started, local.backend.model, n, stop, options.logprobs)


class Run(ABC):
    """One conversation's answers: pieces of text as they come, then the answers."""

    @abstractmethod
    def pieces(self) -> AsyncIterator[tuple[int, str]]:
        """``(choice index, text)`` as it is written; the pieces of a choice join to its text."""

    @abstractmethod
    async def answers(self) -> list[Answer]:
        """Every choice, whole, once it is done."""


class _RemoteRun(Run):
    def __init__(
        self, backend: Any, conversation: list[dict[str, Any]], n: int, options: Any, stop: Sequence[str]
    ):
        self.backend, self.conversation, self.n, self.options, self.stop = (
            backend,
            conversation,
            n,
            options,
            stop,
        )
        self._answers: list[Answer] | None = None

    async def answers(self) -> list[Answer]:
        if self._answers is None:
            [completions] = await self.backend.sample([self.conversation], n=self.n, options=self.options)
            self._answers = [_answer(c, self.stop, None) for c in completions]
        return self._answers

    async def pieces(self) -> AsyncIterator[tuple[int, str]]:
        for index, answer in enumerate(await self.answers()):
            if answer.text:
                yield index, answer.text


class _LocalRun(Run):
    def __init__(self, run: Any, model: LocalChatModel, n: int, stop: Sequence[str], logprobs: int | None):
        self.run, self.model, self.stop, self.logprobs = run, model, list(stop), logprobs
        marker = run.generation.tool_marker
        self.writers = [_Writer(model, self.stop, [marker] if marker else []) for _ in range(n)]
        self._answers: list[Answer] | None = None
        self._reading = False

    async def _finish(self) -> list[Answer]:
        if self._answers is None:
            [completions] = await self.run.result()
            model = self.model if self.logprobs is not None else None
            self._answers = [_answer(c, self.stop, model) for c in completions]
        return self._answers

    async def answers(self) -> list[Answer]:
        if self.stop and not self._reading:
            async for _ in self._written():  # reading the text stops the generation at a stop sequence
                pass
        return await self._finish()

    async def _written(self) -> AsyncIterator[tuple[int, str]]:
        self._reading = True
        async for row, token in self.run.tokens():
            writer = self.writers[row]
            piece = writer.add(token)
            if piece:
                yield row, piece
            if writer.stopped and all(w.stopped for w in self.writers):
                self.run.cancel()  # every choice reached a stop sequence: nothing more to write

    async def pieces(self) -> AsyncIterator[tuple[int, str]]:
        async for item in self._written():
            yield item
        for row, answer in enumerate(await self._finish()):
            rest = self.writers[row].rest(answer.text)
            if rest:
                yield row, rest


class _Writer:
    """One choice's tokens → text as it is written (vLLM's incremental detokenization: decode a
    short window twice, emit the difference once no character is incomplete)."""

    def __init__(self, model: LocalChatModel, stops: list[str], holds: list[str]):
        self.tokenizer = model.tokenizer
        self.eos = model.eos_token_id
        self.stops, self.holds = stops, holds
        self.ids: list[int] = []
        self.prefix = self.read = 0
        self.written = ""
        self.held = ""
        self.stopped = False
        self.holding = False

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def add(self, token: int) -> str:
        if self.stopped or token == self.eos:
            return ""
        self.ids.append(token)
        before = self._decode(self.ids[self.prefix : self.read])
        after = self._decode(self.ids[self.prefix :])
        if len(after) <= len(before) or after.endswith("\ufffd"):
            return ""
        self.prefix, self.read = self.read, len(self.ids)
        return self._release(self.held + after[len(before) :])

    def _release(self, text: str) -> str:
        if self.holding:
            return ""
        for stop in self.stops:
            if stop in text:
                self.stopped = True
                return self._emit(text[: text.index(stop)])
        for marker in self.holds:
            if marker in text:
                self.holding = True
                return self._emit(text[: text.index(marker)])
        keep = max((_overlap(text, s) for s in self.stops + self.holds), default=0)
        self.held = text[len(text) - keep :] if keep else ""
        return self._emit(text[: len(text) - keep])

    def _emit(self, text: str) -> str:
        self.written += text
        return text

    def rest(self, final: str) -> str:
        """What the final text adds to what was written (nothing when it does not extend it)."""
        return final[len(self.written) :] if final.startswith(self.written) else ""


def _overlap(text: str, marker: str) -> int:
    """The length of the longest end of ``text`` that begins ``marker``."""
    for size in range(min(len(text), len(marker) - 1), 0, -1):
        if marker.startswith(text[-size:]):
            return size
    return 0


def _answer(completion: Completion, stop: Sequence[str], model: LocalChatModel | None) -> Answer:
    text, finish = completion.text, completion.finish_reason
    for marker in stop:
        if marker and marker in text:
            text, finish = text[: text.index(marker)], "stop"
    if completion.tool_calls:
        finish = "tool_calls"
    reason = FINISH_REASON.validate_python(finish)
    return Answer(text, reason, completion, _token_logprobs(completion, model) if model else None)


def _token_logprobs(completion: Completion, model: LocalChatModel) -> list[TokenInfo]:
    ids = list(completion.token_ids)
    values = list(completion.logprobs or ())
    if ids and ids[-1] == model.eos_token_id and completion.finish_reason == "stop":
        ids = ids[:-1]  # the end of the turn is no part of the content
    top = list(completion.top_logprobs or ())
    out = []
    for position, (token, raw) in enumerate(model.token_pieces(ids)):
        alternatives = []
        if position < len(top):
            pairs = top[position]
            pieces = model.token_pieces([t for t, _ in pairs])
            alternatives = [(text, b, _finite(v)) for (text, b), (_, v) in zip(pieces, pairs, strict=True)]
        out.append(
            TokenInfo(token, raw, _finite(values[position]) if position < len(values) else 0.0, alternatives)
        )
    return out


def _finite(value: float) -> float:
    """JSON has no -inf: a masked token's log-probability is reported as -9999 (as OpenAI does)."""
    return value if math.isfinite(value) else -9999.0


def caller_project() -> str | None:
    """The caller's project, so that projects share a model fairly (None: each request its own share)."""
    from openrft.server._shared import request_principal

    principal = request_principal.get()
    return None if principal is None else str(principal.project)


@dataclass(frozen=True)
class Usage:
    """Token counts of one request: the prompt once, the completions of every choice."""

    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int

    @classmethod
    def of(cls, answers: Sequence[Answer]) -> Usage:
        completions = [a.completion for a in answers]
        return cls(
            prompt_tokens=completions[0].prompt_tokens if completions else 0,
            completion_tokens=sum(c.completion_tokens for c in completions),
            reasoning_tokens=sum(c.reasoning_tokens for c in completions),
        )
