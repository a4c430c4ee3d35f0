"""The judge behind score_model and label_model graders: a model backend per judge model.

With ``settings.judge_base_url`` set, a judge model is a :class:`~openrft.models.RemoteBackend`
on that endpoint; every judge model shares one :class:`~openrft.models.OpenAIEndpoint`, so
``judge_timeout``, ``judge_max_retries`` (the openai client's backoff on 408/409/429/5xx and
connection errors) and ``judge_concurrency`` (requests in flight) hold across them. Without
it, the judge runs in this process on a :class:`~openrft.models.BatchingBackend` (concurrent
requests that share their options run as one batch), called directly; its generation stops
after ``judge_timeout`` seconds (``finish_reason`` ``length``). Either way the answer is
constrained to the grader's ``response_format`` (JSON schema decoding on local models).

Model names: a grader's ``model`` maps through ``settings.judge_models``; an unmapped name
is sent as is to a remote endpoint and replaced by ``settings.judge_default_model`` locally.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openrft.config import Settings
from openrft.errors import OpenRFTError
from openrft.graders._results import TokenUsage
from openrft.models import Completion, GenerationOptions, OpenAIEndpoint, SamplingBackend

if TYPE_CHECKING:
    from openrft.graders._runtime import GraderRuntime


def judge_model_name(settings: Settings, name: str) -> str:
    """The model the judge backend runs for a grader's ``model``."""
    mapped = settings.judge_models.get(name)
    if mapped:
        return mapped
    return name if settings.judge_base_url else settings.judge_default_model


@dataclass
class JudgeReply:
    """The first choice of a chat completion, reduced to what graders use."""

    model: str
    content: str | None
    refusal: str | None
    finish_reason: str | None
    usage: TokenUsage


class JudgeRequestError(Exception):
    """The request failed after all retries (recorded as ``model_grader_server_error``)."""


class Judge:
    """The judge models of one :class:`GraderRuntime`, each a sampling backend made on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.endpoint = (
            OpenAIEndpoint(
                str(settings.judge_base_url),
                api_key=settings.judge_api_key,
                timeout=settings.judge_timeout,
                max_retries=settings.judge_max_retries,
                concurrency=settings.judge_concurrency,
                param="judge_base_url",
            )
            if settings.judge_base_url
            else None
        )
        self._backends: dict[str, SamplingBackend] = {}
        self._lock = threading.Lock()

    def model_name(self, name: str) -> str:
        return judge_model_name(self.settings, name)

    def backend(self, model: str) -> SamplingBackend:
        """The backend of ``model`` (already mapped); a local one loads its weights (blocking)."""
        with self._lock:
            if model not in self._backends:
                self._backends[model] = self._open(model)
            return self._backends[model]

    def _open(self, model: str) -> SamplingBackend:
        from openrft.models import BatchingBackend, LocalChatModel, RemoteBackend, resolve_model_path

        if self.endpoint is not None:
            return RemoteBackend(self.endpoint, model)
        cache = self.settings.cache_dir
        return BatchingBackend(LocalChatModel(resolve_model_path(model, cache), cache_dir=cache), name=model)

    async def complete(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        response_format: Mapping[str, Any] | None = None,
        **sampling: Any,
    ) -> JudgeReply:
        """One chat completion from ``model`` (already mapped); raises :class:`JudgeRequestError`.

        ``sampling`` holds chat completions' names (``temperature``, ``top_p``, ``seed``,
        ``max_completion_tokens``, ``reasoning_effort``); what is left out is the model's default.
        """
        options = GenerationOptions(
            temperature=sampling.get("temperature"),
            top_p=sampling.get("top_p"),
            max_tokens=sampling.get("max_completion_tokens"),
            seed=sampling.get("seed"),
            response_format=response_format,
            reasoning_effort=sampling.get("reasoning_effort"),
            max_time=None if self.endpoint is not None else self.settings.judge_timeout,
        )
        try:
            backend = self._backends.get(model)
            if backend is None:
                backend = await asyncio.to_thread(self.backend, model)
            [[completion]] = await backend.sample([messages], options=options)
        except OpenRFTError as exc:  # a bad model name, a refused request, an endpoint down
            raise JudgeRequestError(exc.message) from exc
        except Exception as exc:  # a local model's failure reaches the grader as data
            raise JudgeRequestError(f"the judge failed: {type(exc).__name__}: {exc}") from exc
        return _reply(model, completion)

    def close(self) -> None:
        """Release every judge model (weights, threads) and the endpoint's clients."""
        with self._lock:
            backends, self._backends = list(self._backends.values()), {}
        for backend in backends:
            backend.close()
        if self.endpoint is not None:
            self.endpoint.close()


def _reply(model: str, completion: Completion) -> JudgeReply:
    prompt, generated = completion.prompt_tokens, completion.completion_tokens
    usage = TokenUsage(
        prompt_tokens=prompt,
        completion_tokens=generated,
        total_tokens=prompt + generated,
        cached_tokens=completion.cached_tokens,
    )
    content = None if completion.refusal and not completion.text else completion.text
    return JudgeReply(
        model=completion.model or model,
        content=content,
        refusal=completion.refusal,
        finish_reason=completion.finish_reason,
        usage=usage,
    )


def get_judge(rt: GraderRuntime) -> Judge:
    """The runtime's judge, created on first use."""
    s = rt.settings
    return rt.resource(("judge", s.judge_base_url), lambda: Judge(s))
