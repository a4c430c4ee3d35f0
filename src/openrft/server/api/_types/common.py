"""Shapes shared by every resource: the error envelope and cursor-paginated lists."""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, StringConstraints

T = TypeVar("T")

Metadata = Annotated[
    dict[Annotated[str, StringConstraints(max_length=64)], Annotated[str, StringConstraints(max_length=512)]],
    Field(max_length=16, description="At most 16 pairs; keys up to 64 characters, values up to 512"),
]
"""A resource's ``metadata``, bounded as OpenAI bounds it."""
Name = Annotated[str, StringConstraints(max_length=256)]
"""A resource's display name."""


class ErrorInfo(BaseModel):
    message: str
    type: str
    """``invalid_request_error`` (4xx) or ``server_error`` (5xx)."""
    param: str | None = None
    """The request field at fault (``training_file``, ``grader.graders.a.operation``)."""
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error envelope: ``{"error": {"message", "type", "param", "code"}}``."""

    error: ErrorInfo


class ListPage(BaseModel, Generic[T]):
    """A page of a list; pass ``last_id`` as ``after`` to get the next one."""

    object: Literal["list"] = "list"
    data: list[T]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


def list_page(data: list[T], has_more: bool, key: str = "id") -> ListPage[T]:
    """A page of wire objects, with ``first_id``/``last_id`` taken from them."""
    ids = [getattr(d, key) for d in data]
    return ListPage[T](
        data=data, first_id=ids[0] if ids else None, last_id=ids[-1] if ids else None, has_more=has_more
    )


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorResponse, "description": "Invalid request (the field is in `error.param`)"},
    401: {"model": ErrorResponse, "description": "Missing or wrong API key"},
    404: {"model": ErrorResponse, "description": "No such object"},
}
"""Declared on every router so the OpenAPI document lists the error envelope."""
