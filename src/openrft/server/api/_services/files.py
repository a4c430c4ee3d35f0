"""Files: upload (checked as it arrives), list, retrieve, content, delete.

A ``fine-tune`` upload is read with the dataset validator (``openrft.data``) and refused with
every problem listed as ``FILENAME:LINE`` when it is not a valid RFT JSONL file; an ``evals``
upload must hold one JSON object per line. Rejected bytes are removed before answering. Rows
are counted as the bytes arrive, so an upload over the row limit is refused at that row,
without being stored or parsed to its end.

A file belongs to the project of the key that uploaded it; every other project gets 404.
"""

from __future__ import annotations

import asyncio
import json
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

from fastapi import UploadFile

from openrft.config import Settings
from openrft.errors import InvalidRequestError
from openrft.server._shared import Principal
from openrft.server.api._serialize import file_object
from openrft.server.api._types.common import ListPage, list_page
from openrft.server.api._types.files import PURPOSES, FileDeleted, FileObject
from openrft.store import FileRow, NotFoundError, Store, new_id, now

CHUNK = 1024 * 1024
MAX_FILENAME = 255


def check_filename(name: str | None) -> str:
    """The client's file name, if it is a plain name; folders, ``..`` and control characters are refused."""
    name = name or "upload.jsonl"
    if (
        "/" in name
        or "\\" in name
        or name in (".", "..")
        or any(unicodedata.category(ch)[0] == "C" for ch in name)
        or len(name.encode()) > MAX_FILENAME
    ):
        raise InvalidRequestError(
            f"file name {name[:80]!r}: send a plain file name (no folders, '..' or control characters, "
            f"at most {MAX_FILENAME} bytes)",
            param="file",
            code="invalid_file_name",
        )
    return name


def _evals_problems(path: Path, filename: str) -> list[str]:
    problems = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                problems.append(f"{filename}:{number}: not valid JSON ({exc})")
            else:
                if not isinstance(value, dict):
                    problems.append(f"{filename}:{number}: each line must be a JSON object")
            if len(problems) >= 3:
                break
    return problems


def _fine_tune_problems(path: Path, filename: str, settings: Settings, split: str) -> list[str]:
    from openrft.data import DatasetLimits, check_rft_jsonl

    report = check_rft_jsonl(path, split, DatasetLimits.from_settings(settings))
    return [p.replace(str(path), filename) for p in report.problems]


def check_content(
    path: Path, filename: str, purpose: str, settings: Settings, *, param: str = "file", split: str = "train"
) -> None:
    """Raise a 400 listing the first problems of a file's content for its purpose (and RFT split)."""
    if purpose == "fine-tune":
        problems = _fine_tune_problems(path, filename, settings, split)
    else:
        problems = _evals_problems(path, filename)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise InvalidRequestError(
            f"{filename} is not a valid {purpose} file: {'; '.join(problems[:3])}{more}",
            param=param,
            code="invalid_file",
        )


def owned(principal: Principal) -> dict[str, str]:
    """The ``store.get`` condition that keeps a caller to its own project's rows (none for admins)."""
    return {} if principal.admin else {"project": principal.project}


class _RowCounter:
    """Counts the non-blank lines of a stream of chunks; refuses the row past ``limit``."""

    def __init__(self, limit: int, setting: str):
        self.limit, self.setting = limit, setting
        self.rows, self.tail = 0, b""

    def feed(self, chunk: bytes) -> None:
        lines = (self.tail + chunk).split(b"\n")
        self.tail = lines.pop()
        self.rows += sum(1 for line in lines if line.strip())
        if self.rows > self.limit:
            raise InvalidRequestError(
                f"the file has more than {self.limit:,} rows, the limit for a fine-tune file "
                f"({self.setting})",
                param="file",
                code="invalid_file",
            )

    def close(self) -> None:
        self.feed(b"\n")


class FileService:
    def __init__(self, store: Store, settings: Settings, max_upload_bytes: int):
        self.store = store
        self.settings = settings
        self.max_upload_bytes = max_upload_bytes

    async def create(
        self,
        principal: Principal,
        upload: UploadFile,
        purpose: str,
        expires_after_seconds: int | None = None,
    ) -> FileObject:
        if purpose not in PURPOSES:
            raise InvalidRequestError(
                f"purpose {purpose!r} is not supported here: use one of {', '.join(PURPOSES)}",
                param="purpose",
            )
        filename = check_filename(upload.filename)
        file_id = new_id("file-")
        rows = _RowCounter(self.settings.max_train_rows, "OPENRFT_MAX_TRAIN_ROWS")

        async def chunks() -> AsyncIterator[bytes]:
            while chunk := await upload.read(CHUNK):
                if purpose == "fine-tune":
                    rows.feed(chunk)
                yield chunk
            if purpose == "fine-tune":
                rows.close()

        received = await self.store.files.receive(chunks(), self.max_upload_bytes)
        kept = False
        try:
            await asyncio.to_thread(check_content, received.path, filename, purpose, self.settings)
            self.store.files.place(received, file_id)
            created = now()
            row = FileRow(
                id=file_id,
                filename=filename,
                purpose=purpose,
                bytes=received.size,
                sha256=received.sha256,
                created_at=created,
                expires_at=created + expires_after_seconds if expires_after_seconds else None,
                project=principal.project,
            )
            self.store.add(row)
            kept = True
        finally:
            self.store.files.finish(received, keep=kept)
        return file_object(row)

    def live(self, principal: Principal, file_id: str, *, param: str = "file_id") -> FileRow:
        """The caller's file ``file_id``; 404 when it is absent, expired or another project's."""
        row = self.store.get(FileRow, file_id, param=param, **owned(principal))
        if row.expires_at is not None and row.expires_at <= now():
            raise NotFoundError(f"No File object found with id {file_id!r} (it expired)", param=param)
        return row

    def list(
        self,
        principal: Principal,
        *,
        purpose: str | None,
        after: str | None,
        limit: int,
        order: Literal["asc", "desc"],
    ) -> ListPage[FileObject]:
        rows, more = self.store.files_page(
            project=principal.scope, purpose=purpose, after=after, limit=limit, order=order
        )
        return list_page([file_object(r) for r in rows], more)

    def get(self, principal: Principal, file_id: str) -> FileObject:
        return file_object(self.live(principal, file_id))

    def content(self, principal: Principal, file_id: str) -> tuple[Path, FileRow]:
        row = self.live(principal, file_id)
        return self.store.files.path(file_id), row

    def delete(self, principal: Principal, file_id: str) -> FileDeleted:
        self.live(principal, file_id)
        self.store.delete(FileRow, file_id)
        self.store.files.delete(file_id)
        return FileDeleted(id=file_id, deleted=True)
