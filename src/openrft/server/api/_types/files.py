"""Files (reference §4)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, TypeAdapter

PURPOSES = ("fine-tune", "evals")
"""The purposes this server accepts on upload (OpenAI's others have no use here)."""


FileStatus = Literal["uploaded", "processed", "error"]
FILE_STATUS = TypeAdapter[FileStatus](FileStatus)
"""Checks a stored file's status (a plain string column) as the API's, as the field would."""


class FileObject(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    expires_at: int | None = None
    filename: str
    """The name the client sent (display only; the bytes are stored under ``id``)."""
    purpose: str
    status: FileStatus = "processed"
    status_details: str | None = None


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool
