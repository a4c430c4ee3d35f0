"""Every error the server returns, in OpenAI's envelope ``{"error": {"message", "type", "param", "code"}}``.

* :class:`~openrft.errors.OpenRFTError` (raised by the library and the services): its own
  status (400, 404, 413, 503…), ``param`` and ``code``;
* body and query validation (FastAPI's 422): 400 with ``param`` naming the field, as OpenAI does;
* unknown URL 404, wrong method 405;
* a full disk (``ENOSPC``, SQLite's "database or disk is full"): 507; a database that cannot be
  reached or is locked for too long: 503;
* anything else: 500 with a fixed message; the traceback goes to the log, never to the client.
"""

from __future__ import annotations

import errno
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from openrft.errors import OpenRFTError

log = logging.getLogger("openrft.server")


class AuthenticationError(OpenRFTError):
    """A missing or wrong API key."""

    status_code = 401


class PermissionDeniedError(OpenRFTError):
    """A valid key that may not do this (OpenAI's 403 ``permission_error``)."""

    type = "permission_error"
    status_code = 403


def error_response(
    status: int, message: str, *, type: str | None = None, param: str | None = None, code: str | None = None
) -> JSONResponse:
    kind = type or ("server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def _param(loc: tuple[Any, ...]) -> str | None:
    """``('body', 'method', 'reinforcement', 'grader')`` → ``method.reinforcement.grader``."""
    parts = [str(p) for p in loc[1:] if not str(p).startswith(("function-", "union["))]
    path = ""
    for part in parts:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path or None


def _validation_message(error: dict[str, Any], param: str | None) -> str:
    kind = error.get("type", "")
    if kind == "json_invalid":
        return f"The request body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})."
    if kind == "extra_forbidden" and param:
        return f"Unrecognized request argument supplied: {param}"
    if kind == "missing" and param:
        return f"Missing required parameter: '{param}'."
    if kind == "missing":
        return "The request needs a JSON body."
    if param is None and kind in ("model_attributes_type", "dict_type"):
        return "The request body must be a JSON object, sent with Content-Type: application/json."
    if param:
        got = error.get("input")
        shown = repr(got) if isinstance(got, str | int | float | bool) or got is None else type(got).__name__
        return f"Invalid value for '{param}': {error.get('msg', 'invalid')} (got {shown[:200]})."
    return f"Invalid request: {error.get('msg', 'invalid')}."


async def _openrft_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OpenRFTError)
    status = getattr(exc, "status_code", 400)
    return error_response(status, exc.message, type=exc.type, param=exc.param, code=exc.code)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {"type": "invalid", "loc": ("body",), "msg": "invalid request"}
    param = None if first.get("type") == "json_invalid" else _param(tuple(first.get("loc", ())))
    message = _validation_message(first, param)
    if len(errors) > 1:
        message += f" ({len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return error_response(400, message, param=param)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    where = f"{request.method} {request.url.path}"
    if exc.status_code == 404:
        message = f"Invalid URL ({where})"
    elif exc.status_code == 405:
        message = f"Method not allowed ({where})"
    else:
        message = str(exc.detail)
    response = error_response(exc.status_code, message)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


DISK_FULL = "The server's disk is full: nothing was stored. Retry once space is freed."


async def _os_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        log.error("disk full on %s %s: %s", request.method, request.url.path, exc)
        return error_response(507, DISK_FULL, code="disk_full")
    return await _unexpected(request, exc)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("database error on %s %s: %s", request.method, request.url.path, exc)
    if "disk is full" in str(exc) or "No space left" in str(exc):
        return error_response(507, DISK_FULL, code="disk_full")
    response = error_response(503, "The database is unavailable; retry shortly.", code="database_unavailable")
    response.headers["Retry-After"] = "5"
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "The server had an error while processing your request; see the server log.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OpenRFTError, _openrft_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OSError, _os_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
