"""One error family for the whole package.

Library code raises subclasses of :class:`OpenRFTError`; each surface renders them once:
the CLI prints one line (no traceback), the server turns them into OpenAI's error envelope
``{"error": {"message", "type", "param", "code"}}``.

Expected per-sample failures (a grader that times out, a judge that answers nonsense) are
*not* exceptions: they are recorded in a grader result's ``metadata.errors``.
"""

from __future__ import annotations


class OpenRFTError(Exception):
    """Base class of every error openrft raises on purpose."""

    type: str = "invalid_request_error"
    status_code: int = 400

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code

    def to_dict(self) -> dict[str, str | None]:
        """The body of OpenAI's error envelope."""
        return {"message": self.message, "type": self.type, "param": self.param, "code": self.code}


class InvalidRequestError(OpenRFTError):
    """The input is wrong: a field, a value or a file that the user has to fix."""


class GraderValidationError(InvalidRequestError):
    """A grader definition is invalid; ``param`` names the field path."""


class BackendUnavailable(OpenRFTError):
    """An optional backend or asset is not installed; the message says how to install it."""

    type = "server_error"
    status_code = 503
