"""What runs before any route: the API key, the request body's size and depth, and the headers
every response carries.

They are plain ASGI middleware so that they answer first: a request without a valid key gets
401 even when its body is malformed, and an oversize body gets 413 before its bytes are parsed
or spooled to disk (FastAPI's form parsing would otherwise store all of it first).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import accumulate
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openrft.server._shared import NO_AUTH, Principal, request_principal
from openrft.server.api._auth import KeyChecker
from openrft.server.api._errors import error_response

DRAIN_LIMIT = 64 * 1024 * 1024
"""Bytes of an oversize body read and dropped so that the client sees the 413 (not a reset)."""
MAX_JSON_DEPTH = 64
"""Nesting of a JSON body: deeper than any real request, far below what parsers recurse into."""
FORM_OVERHEAD = 64 * 1024
"""Bytes of multipart framing allowed on top of an upload's own size."""

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((v for k, v in scope["headers"] if k == name), None)


class ApiKeyMiddleware:
    """Requires ``Authorization: Bearer KEY`` on ``/v1/…``; records the caller for the routes.

    The caller (:class:`Principal`) goes to ``request.state.principal`` and to the
    ``request_principal`` context variable. ``checker`` None: no auth, every caller is the
    ``default`` project (``--no-auth``).
    """

    def __init__(self, app: ASGIApp, checker: KeyChecker | None):
        self.app = app
        self.checker = checker

    async def _principal(self, scope: Scope) -> tuple[Principal | None, bool]:
        """(the caller, a key was sent)."""
        header = _header(scope, b"authorization")
        if header is None:
            return None, False
        scheme, _, token = header.partition(b" ")
        token = token.strip()
        if scheme.lower() != b"bearer" or not token:
            return None, True
        assert self.checker is not None
        found = self.checker.server_key(token) or self.checker.cached(token)
        if found is None:
            found = await anyio.to_thread.run_sync(self.checker.project_key, token)
        return found, True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        principal, sent = (NO_AUTH, True) if self.checker is None else await self._principal(scope)
        if principal is not None:
            scope.setdefault("state", {})["principal"] = principal
            token = request_principal.set(principal)
            try:
                await self.app(scope, receive, send)
            finally:
                request_principal.reset(token)
            return
        if sent:
            message, code = (
                "Incorrect API key provided. Use one of the server's keys (OPENRFT_API_KEYS) or a "
                "project key from `openrft keys create`.",
                "invalid_api_key",
            )
        else:
            message, code = "You didn't provide an API key: send 'Authorization: Bearer KEY'.", None
        response = error_response(401, message, code=code)
        response.headers["WWW-Authenticate"] = "Bearer"
        await response(scope, receive, send)


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def json_depth(body: bytes | bytearray) -> int:
    """How deeply a JSON text nests (brackets inside strings aside); cheap, never recursive."""
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", body))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


class BodyGuardMiddleware:
    """Bounds every request body: 413 over ``limit_for(method, path)`` bytes, 400 for JSON nested
    deeper than ``MAX_JSON_DEPTH``.

    An upload (whatever its content type) is counted as it streams and cut off at its limit;
    any other body, bounded by its limit, is read whole, checked, and handed on.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], tuple[int, str, bool]]):
        self.app = app
        self.limit_for = limit_for
        """(method, path) → (bytes allowed, the setting that says so, whether it is an upload)."""

    @staticmethod
    def _too_large(limit: int, setting: str, upload: bool) -> Any:
        if upload:
            return error_response(
                413,
                f"the file is over the upload limit of {limit:,} bytes ({setting})",
                param="file",
                code="file_too_large",
            )
        return error_response(
            413,
            f"the request body is over the limit of {limit:,} bytes ({setting})",
            code="request_too_large",
        )

    @staticmethod
    async def _drain(receive: Receive, more: bool, seen: int) -> None:
        while more and seen < DRAIN_LIMIT:
            message = await receive()
            if message["type"] != "http.request":
                return
            seen += len(message.get("body", b""))
            more = message.get("more_body", False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit, setting, upload = self.limit_for(scope["method"], scope["path"])
        content_type = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
        allowed = limit + (FORM_OVERHEAD if upload else 0)
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > allowed:
            await self._drain(receive, True, 0)
            await self._too_large(limit, setting, upload)(scope, receive, send)
            return
        if upload:
            await self._stream(scope, receive, send, allowed, self._too_large(limit, setting, upload))
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > allowed:
                await self._drain(receive, more, len(body))
                await self._too_large(limit, setting, upload)(scope, receive, send)
                return
        if content_type.endswith((b"/json", b"+json")) or not content_type:
            depth = (
                await anyio.to_thread.run_sync(json_depth, bytes(body))
                if len(body) > 65536
                else json_depth(body)
            )
            if depth > MAX_JSON_DEPTH:
                problem = f"the JSON body nests {depth} levels deep; at most {MAX_JSON_DEPTH} are accepted"
                await error_response(400, problem, code="json_too_deep")(scope, receive, send)
                return
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, allowed: int, refusal: Any) -> None:
        seen = 0
        answered = False

        async def counted_receive() -> Message:
            nonlocal seen, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > allowed:
                    await self._drain(receive, message.get("more_body", False), seen)
                    answered = True
                    await refusal(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not answered:  # the app's own answer to the cut-off body is dropped
                await send(message)

        await self.app(scope, counted_receive, guarded_send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then waits for the disconnect."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class SecurityHeadersMiddleware:
    """Adds a strict Content-Security-Policy, no framing, no sniffing, no referrer to every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
