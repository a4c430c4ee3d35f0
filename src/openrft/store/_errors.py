"""Errors the store raises; the server renders them with their HTTP status."""

from __future__ import annotations

from openrft.errors import InvalidRequestError, OpenRFTError


class NotFoundError(OpenRFTError):
    """No object with this id (OpenAI answers 404 with ``invalid_request_error``)."""

    status_code = 404


class PayloadTooLargeError(InvalidRequestError):
    """An upload over the configured size limit."""

    status_code = 413


class ConflictError(InvalidRequestError):
    """The object is not in a state that allows this (cancel a finished job, resume a running one)."""


class InsufficientStorageError(OpenRFTError):
    """The server's disk (or its database's) is full: nothing was stored; retry once space is freed."""

    type = "server_error"
    status_code = 507
