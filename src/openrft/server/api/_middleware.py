"""Two checks that run before any route: the API key, and the size of an upload.

Both are plain ASGI middleware so that they answer first: a request without a valid key gets
401 even when its body is malformed, and an oversize upload gets 413 before its bytes are
parsed or spooled to disk (FastAPI's form parsing would otherwise store all of it first).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openrft.server.api._errors import error_response

DRAIN_LIMIT = 64 * 1024 * 1024
"""Bytes of an oversize upload read and dropped so that the client sees the 413 (not a reset)."""


class ApiKeyMiddleware:
    """Requires ``Authorization: Bearer KEY`` on ``/v1/…`` with one of ``keys`` (None: no auth)."""

    def __init__(self, app: ASGIApp, keys: Sequence[str] | None):
        self.app = app
        self.keys = [k.encode() for k in keys] if keys is not None else None

    def _allowed(self, scope: Scope) -> tuple[bool, bool]:
        """(allowed, a key was sent)."""
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if header is None:
            return False, False
        scheme, _, token = header.partition(b" ")
        token = token.strip()
        if scheme.lower() != b"bearer" or not token:
            return False, True
        assert self.keys is not None
        # Compare with every key, in constant time, so that timing reveals nothing.
        return any([hmac.compare_digest(token, key) for key in self.keys]), True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.keys is None or scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        allowed, sent = self._allowed(scope)
        if allowed:
            await self.app(scope, receive, send)
            return
        if sent:
            message, code = (
                "Incorrect API key provided. Use one of the server's keys (OPENRFT_API_KEYS).",
                "invalid_api_key",
            )
        else:
            message, code = "You didn't provide an API key: send 'Authorization: Bearer KEY'.", None
        response = error_response(401, message, code=code)
        response.headers["WWW-Authenticate"] = "Bearer"
        await response(scope, receive, send)


class UploadLimitMiddleware:
    """Answers 413 to a ``POST`` on ``path`` whose body is over ``limit`` bytes (+ form overhead)."""

    def __init__(self, app: ASGIApp, limit: int, *, path: str = "/v1/files", overhead: int = 64 * 1024):
        self.app = app
        self.path = path
        self.max_body = limit + overhead
        self.limit = limit

    def _response(self) -> Any:
        return error_response(
            413,
            f"the file is over the upload limit of {self.limit:,} bytes (OPENRFT_MAX_UPLOAD_BYTES)",
            param="file",
            code="file_too_large",
        )

    async def _drain(self, receive: Receive, more: bool, seen: int) -> None:
        while more and seen < DRAIN_LIMIT:
            message = await receive()
            if message["type"] != "http.request":
                return
            seen += len(message.get("body", b""))
            more = message.get("more_body", False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await self._drain(receive, True, 0)
            await self._response()(scope, receive, send)
            return
        seen = 0
        answered = False

        async def counted_receive() -> Message:
            nonlocal seen, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    await self._drain(receive, message.get("more_body", False), seen)
                    answered = True
                    await self._response()(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not answered:  # the app's own answer to the cut-off body is dropped
                await send(message)

        await self.app(scope, counted_receive, guarded_send)
