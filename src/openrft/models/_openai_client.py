"""The one place openrft builds ``openai`` clients: remote chat models, judges, embedders, vLLM.

Every call to an OpenAI-compatible endpoint goes through an :class:`OpenAIEndpoint`, which
holds its URL, key and limits and makes the official clients from them. Those clients retry
408/409/429/5xx answers and connection errors with exponential backoff (honouring
``Retry-After``) and abandon a request after ``timeout`` seconds. On top of them:

* an asyncio client and a semaphore of ``concurrency`` slots **per event loop** (an httpx
  client belongs to the loop it first ran on, and evals, training steps and the server each
  run their own). Each is closed by :meth:`OpenAIEndpoint.close`, or at the latest when its
  loop shuts down its async generators (``asyncio.run`` and pytest-asyncio both do);
* one synchronous client, for the callers that block (embeddings, vLLM's admin endpoints);
* :meth:`OpenAIEndpoint.failure`: a failed call as one line naming the status, the URL, and
  the retries spent, as a :class:`~openrft.errors.BackendUnavailable`.

``openai`` is imported on first use (it takes ~0.4 s).
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from openrft.errors import BackendUnavailable, InvalidRequestError

if TYPE_CHECKING:
    import openai

RETRIED_STATUSES = (408, 409, 429)
"""Statuses the client retries besides 5xx."""


@dataclass
class Session:
    """One event loop's client of an endpoint, and the slots that cap its requests in flight."""

    client: openai.AsyncOpenAI
    limit: asyncio.Semaphore
    closer: AsyncIterator[None] | None = field(default=None, repr=False)


class OpenAIEndpoint:
    """An OpenAI-compatible API root and the limits of calling it.

    Args:
        base_url: the API root, e.g. ``http://localhost:8000/v1``.
        api_key: sent as the bearer token; default ``OPENAI_API_KEY``, else a placeholder (local
            servers want none).
        timeout: seconds before one request is abandoned (then retried).
        max_retries: retries of a failed request (429, 5xx, timeouts, connection errors).
        concurrency: requests in flight at once, per event loop.
        param: the setting or field that gave ``base_url``, named in errors.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        concurrency: int = 8,
        param: str | None = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise InvalidRequestError(
                f"base_url {base_url!r} must start with http:// or https://", param=param or "base_url"
            )
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise InvalidRequestError(
                f"need concurrency >= 1, max_retries >= 0 and timeout > 0; got {concurrency}, "
                f"{max_retries}, {timeout}"
            )
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.concurrency = concurrency
        self._lock = threading.Lock()
        self._sync: openai.OpenAI | None = None
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Session] = (
            weakref.WeakKeyDictionary()
        )
        self._pending: set[asyncio.Task[None]] = set()

    def _options(self) -> dict[str, Any]:
        key = self.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        return {
            "base_url": self.base_url,
            "api_key": key,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
        }

    def client(self) -> openai.OpenAI:
        """The synchronous client, made on first use."""
        with self._lock:
            if self._sync is None:
                import openai

                self._sync = openai.OpenAI(**self._options())
            return self._sync

    async def session(self) -> Session:
        """The running loop's client and request slots, made on first use in that loop."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None:
            import openai

            for old in [old for old in self._sessions if old.is_closed()]:  # closed without shutdown
                self._sessions.pop(old, None)
            session = Session(openai.AsyncOpenAI(**self._options()), asyncio.Semaphore(self.concurrency))
            self._sessions[loop] = session
            session.closer = self._close_at_loop_shutdown(loop, session.client)
            await session.closer.__anext__()  # parked at its yield until the loop shuts down
        return session

    async def _close_at_loop_shutdown(
        self, loop: asyncio.AbstractEventLoop, client: openai.AsyncOpenAI
    ) -> AsyncIterator[None]:
        """An async generator that the loop finalises at shutdown (``loop.shutdown_asyncgens``).

        It closes the loop's client and forgets it: the session refers to the loop, so the weak
        mapping alone would never let it go.
        """
        try:
            yield
        finally:
            self._sessions.pop(loop, None)
            await client.close()

    def failure(self, exc: BaseException, where: str) -> BackendUnavailable:
        """A failed call as one line: ``where`` (a URL and model), the status or cause, the retries."""
        import openai

        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            retried = status in RETRIED_STATUSES or status >= 500
            return BackendUnavailable(
                f"{where} answered HTTP {status}{self._after(retried)}: {error_message(exc)}",
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

    async def aclose(self) -> None:
        """Close the running loop's client now, and the others as :meth:`close` does."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.client.close()
        self.close()

    def close(self) -> None:
        """Close the synchronous client and every loop's client that can still be closed."""
        with self._lock:
            sync, self._sync = self._sync, None
        if sync is not None:
            sync.close()
        current = _running_loop()
        for loop, session in list(self._sessions.items()):
            self._sessions.pop(loop, None)
            if loop.is_closed():
                continue
            if loop is current:
                task = loop.create_task(session.client.close())
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
            elif loop.is_running():
                asyncio.run_coroutine_threadsafe(session.client.close(), loop)
            else:
                loop.run_until_complete(session.client.close())


def error_message(exc: Any) -> str:
    """The error text of a failed response: OpenAI's envelope, vLLM's, or the raw body."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    text = getattr(getattr(exc, "response", None), "text", "") or str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
