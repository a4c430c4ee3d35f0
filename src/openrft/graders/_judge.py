"""The judge behind score_model and label_model graders: one OpenAI chat-completions client.

With ``settings.judge_base_url`` set, requests go to that OpenAI-compatible endpoint. Without
it, the same ``openai.AsyncOpenAI`` client talks to a **local judge served in-process**: a
small ASGI app implementing ``POST /v1/chat/completions`` over
:class:`~openrft.models.LocalChatModel`, mounted with ``httpx.ASGITransport``. Both cases
share one code path: retries with exponential backoff on 408/409/429/5xx and connection
errors (the openai client's own, ``judge_max_retries``), a per-request timeout
(``judge_timeout``) and a concurrency limit (``judge_concurrency``). The local judge runs
concurrent requests that share their options as one batch (``BatchingChatModel``).

Model names: a grader's ``model`` maps through ``settings.judge_models``; an unmapped name
is sent as is to a remote endpoint and replaced by ``settings.judge_default_model`` locally.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import openai

from openrft.config import Settings
from openrft.errors import InvalidRequestError, OpenRFTError
from openrft.graders._results import TokenUsage

if TYPE_CHECKING:
    from fastapi import FastAPI

    from openrft.graders._runtime import GraderRuntime
    from openrft.models import BatchingChatModel

LOCAL_BASE_URL = "http://openrft-local-judge/v1"
LOCAL_DEFAULT_MAX_TOKENS = 256
"""Completion tokens the local judge generates when a request sets no limit."""
LOCAL_MAX_N = 16


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


@dataclass
class _LoopClient:
    client: openai.AsyncOpenAI
    semaphore: asyncio.Semaphore
    closer: Any = field(default=None)


class JudgeClient:
    """Sends chat-completion requests to the configured judge; one per :class:`GraderRuntime`.

    httpx clients and semaphores belong to one event loop, so one is made per running loop.
    Each is closed by :meth:`aclose`/:meth:`close`, or, at the latest, when its loop shuts
    down its async generators (``asyncio.run`` and pytest-asyncio both do).
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._app: FastAPI | None = None if settings.judge_base_url else build_local_judge_app(settings)
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = (
            weakref.WeakKeyDictionary()
        )
        self._pending: set[Any] = set()

    def model_name(self, name: str) -> str:
        return judge_model_name(self.settings, name)

    def _new_client(self) -> openai.AsyncOpenAI:
        s = self.settings
        if self._app is not None:
            transport = httpx.ASGITransport(app=self._app)
            http = httpx.AsyncClient(transport=transport, base_url=LOCAL_BASE_URL)
            base_url, key = LOCAL_BASE_URL, "local"
        else:
            http = httpx.AsyncClient()
            base_url, key = str(s.judge_base_url), s.judge_api_key or _env_key()
        return openai.AsyncOpenAI(
            base_url=base_url,
            api_key=key,
            timeout=s.judge_timeout,
            max_retries=s.judge_max_retries,
            http_client=http,
        )

    async def _loop_client(self) -> _LoopClient:
        loop = asyncio.get_running_loop()
        state = self._clients.get(loop)
        if state is None:
            for old in [old for old in self._clients if old.is_closed()]:  # closed without shutdown
                self._clients.pop(old, None)
            state = _LoopClient(self._new_client(), asyncio.Semaphore(self.settings.judge_concurrency))
            self._clients[loop] = state
            state.closer = self._close_at_loop_shutdown(loop, state.client)
            await state.closer.__anext__()  # parked at its yield until the loop shuts down
        return state

    async def _close_at_loop_shutdown(
        self, loop: asyncio.AbstractEventLoop, client: openai.AsyncOpenAI
    ) -> AsyncIterator[None]:
        """An async generator that the loop finalises at shutdown (``loop.shutdown_asyncgens``).

        It closes the loop's client and forgets it; the state refers to the loop, so the
        weak mapping alone would never let it go.
        """
        try:
            yield
        finally:
            self._clients.pop(loop, None)
            await client.close()

    async def complete(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        response_format: dict[str, Any] | None = None,
        **params: Any,
    ) -> JudgeReply:
        """One chat completion from ``model`` (already mapped); raises :class:`JudgeRequestError`."""
        state = await self._loop_client()
        if response_format:
            params["response_format"] = response_format
        async with state.semaphore:
            try:
                response = await state.client.chat.completions.create(
                    model=model, messages=messages, **params
                )
            except (openai.OpenAIError, httpx.HTTPError) as exc:
                raise JudgeRequestError(_describe(exc, self.settings.judge_max_retries)) from exc
        if not response.choices:
            raise JudgeRequestError("the judge returned no choices")
        choice = response.choices[0]
        return JudgeReply(
            model=response.model or model,
            content=choice.message.content,
            refusal=getattr(choice.message, "refusal", None),
            finish_reason=choice.finish_reason,
            usage=_usage(response.usage),
        )

    async def aclose(self) -> None:
        """Close the client of the running loop (others are closed when their loops end)."""
        state = self._clients.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state.client.close()
        self.close()

    def close(self) -> None:
        """Close every loop's client that can still be closed, and the local models."""
        current = _running_loop()
        for loop, state in list(self._clients.items()):
            self._clients.pop(loop, None)
            if loop.is_closed():
                continue
            if loop is current:
                task = loop.create_task(state.client.close())
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
            elif loop.is_running():
                asyncio.run_coroutine_threadsafe(state.client.close(), loop)
            else:
                loop.run_until_complete(state.client.close())
        if self._app is not None:
            self._app.state.models.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _env_key() -> str:
    return os.environ.get("OPENAI_API_KEY") or "not-needed"


def _describe(exc: BaseException, retries: int) -> str:
    """One line for ``model_grader_server_error_details``."""
    retried = (
        not isinstance(exc, openai.APIStatusError)
        or exc.status_code in (408, 409, 429)
        or (exc.status_code >= 500)
    )
    after = f" (after {retries} retr{'y' if retries == 1 else 'ies'})" if retries and retried else ""
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}{after}: {exc.message}"
    if isinstance(exc, openai.APITimeoutError):
        return f"the judge did not answer in time{after}"
    return f"{type(exc).__name__}{after}: {exc}"


def _usage(usage: Any) -> TokenUsage:
    if usage is None:
        return TokenUsage()
    prompt, completion = int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0)
    details = getattr(usage, "prompt_tokens_details", None)
    return TokenUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=int(usage.total_tokens or prompt + completion),
        cached_tokens=int(getattr(details, "cached_tokens", 0) or 0),
    )


def get_judge(rt: GraderRuntime) -> JudgeClient:
    """The runtime's judge client, created on first use."""
    s = rt.settings
    return rt.resource(("judge", s.judge_base_url), lambda: JudgeClient(s))


# --- the local judge, served in-process ----------------------------------------------------


class LocalJudgeFailure(OpenRFTError):
    """The local model raised while generating."""

    type = "server_error"
    status_code = 500


class _LocalModels:
    """Local models by name, loaded on first use (thread-safe, blocking), batching requests."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._models: dict[str, BatchingChatModel] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> BatchingChatModel:
        from openrft.models import BatchingChatModel, LocalChatModel, resolve_model_path

        with self._lock:
            if name not in self._models:
                model = LocalChatModel(
                    resolve_model_path(name, self._settings.cache_dir), cache_dir=self._settings.cache_dir
                )
                self._models[name] = BatchingChatModel(model)
            return self._models[name]

    def close(self) -> None:
        with self._lock:
            models, self._models = list(self._models.values()), {}
        for model in models:
            model.close()


def _text_content(content: Any) -> str:
    """A message's content as text; the local models read text only."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type") in ("text", "input_text", "output_text"):
                parts.append(str(part.get("text", "")))
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise InvalidRequestError(
                    f"the local judge reads text only, not {kind!r} content", param="messages"
                )
        return "\n".join(parts)
    raise InvalidRequestError("message content must be a string or a list of parts", param="messages")


def _json_schema(response_format: Any) -> dict[str, Any] | None:
    if not isinstance(response_format, dict) or response_format.get("type", "text") == "text":
        return None
    if response_format["type"] == "json_object":
        return {"type": "object"}
    if response_format["type"] == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if isinstance(schema, dict):
            return schema
    raise InvalidRequestError(
        "response_format must be text, json_object or json_schema with a schema", param="response_format"
    )


def _generate_kwargs(body: dict[str, Any], max_time: float) -> dict[str, Any]:
    """LocalChatModel.generate arguments from a chat-completions body."""
    if body.get("stream"):
        raise InvalidRequestError("the local judge does not stream", param="stream")
    n = int(body.get("n") or 1)
    if not 1 <= n <= LOCAL_MAX_N:
        raise InvalidRequestError(f"n must be between 1 and {LOCAL_MAX_N}", param="n")
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or LOCAL_DEFAULT_MAX_TOKENS
    temperature = body.get("temperature")
    top_p = body.get("top_p")
    return {
        "n": n,
        "temperature": 1.0 if temperature is None else float(temperature),
        "top_p": 1.0 if top_p is None else float(top_p),
        "max_tokens": int(limit),
        "seed": body.get("seed"),
        "json_schema": _json_schema(body.get("response_format")),
        "max_time": max_time,
    }


def _choice(index: int, text: str, finish_reason: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": text, "refusal": None}
    return {"index": index, "message": message, "finish_reason": finish_reason, "logprobs": None}


def _chat_completion(model: str, completions: list[Any]) -> dict[str, Any]:
    prompt = completions[0].prompt_tokens if completions else 0
    generated = sum(c.completion_tokens for c in completions)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [_choice(i, c.text, c.finish_reason) for i, c in enumerate(completions)],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": generated,
            "total_tokens": prompt + generated,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }


def build_local_judge_app(settings: Settings) -> FastAPI:
    """The in-process ``/v1/chat/completions`` server over local models.

    A request's ``model`` is a local model name (``smollm2-135m-instruct``), a ``.gguf`` file
    or a checkpoint folder. Generation stops after ``settings.judge_timeout`` seconds
    (``finish_reason`` ``length``), since an in-process transport enforces no timeout.
    """
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI(title="openrft local judge")
    app.state.models = _LocalModels(settings)

    def _error(exc: OpenRFTError) -> JSONResponse:
        status = 404 if exc.code == "model_not_found" else exc.status_code
        # Deterministic failures: retrying would only repeat them.
        return JSONResponse({"error": exc.to_dict()}, status_code=status, headers={"x-should-retry": "false"})

    async def chat_completions(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                raise InvalidRequestError("the body needs 'model' and a 'messages' list", param="messages")
            messages = [
                {
                    "role": "system" if m.get("role") == "developer" else m.get("role"),
                    "content": _text_content(m.get("content")),
                }
                for m in body["messages"]
            ]
            kwargs = _generate_kwargs(body, settings.judge_timeout)
            name = str(body.get("model") or settings.judge_default_model)
            model = await asyncio.to_thread(app.state.models.get, name)
            completions = await asyncio.wrap_future(model.submit(messages, **kwargs))
        except OpenRFTError as exc:
            return _error(exc)
        except (ValueError, TypeError, AttributeError) as exc:
            return _error(InvalidRequestError(f"bad request: {exc}"))
        except Exception as exc:  # a local model failure must reach the grader as data
            return _error(LocalJudgeFailure(f"local judge failed: {type(exc).__name__}: {exc}"))
        return JSONResponse(_chat_completion(name, completions))

    # A Starlette-style route: FastAPI's signature introspection cannot see the lazily
    # imported annotation, and the handler parses the OpenAI body itself.
    app.add_route("/v1/chat/completions", chat_completions, methods=["POST"])
    return app
