"""Uploaded bytes on disk, under ``DATA_DIR/files/<file_id>``.

The path on disk is built from the server's own id only (checked by :func:`is_valid_id`);
the client's filename is kept in the database for display and never touches the file
system, so no filename can escape the folder. Each upload is written to a temporary file
in the same folder, fsynced, renamed into place and the folder fsynced: a kill at any point
leaves either no file or the whole file, never a torn one.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from openrft.store._errors import NotFoundError, PayloadTooLargeError
from openrft.store._ids import is_valid_id

FILE_PREFIX = "file-"
_TEMP_PREFIX = ".upload-"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStore:
    """Bytes of uploaded files, one file per id."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, file_id: str) -> Path:
        """Where ``file_id``'s bytes live; any id that is not one of ours is a 404."""
        if not is_valid_id(file_id, FILE_PREFIX):
            raise NotFoundError(f"No such File object: {file_id}", param="file_id")
        return self.root / file_id

    def _temp(self) -> Path:
        return self.root / f"{_TEMP_PREFIX}{secrets.token_hex(8)}"

    def _too_large(self, limit: int) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"the file is over the upload limit of {limit:,} bytes (OPENRFT_MAX_UPLOAD_BYTES)",
            param="file",
            code="file_too_large",
        )

    async def write_async(self, file_id: str, chunks: AsyncIterator[bytes], limit: int) -> tuple[int, str]:
        """Store ``chunks`` under ``file_id``; returns (bytes, sha256). Over ``limit``: 413."""
        target, temp = self.path(file_id), self._temp()
        digest, size = hashlib.sha256(), 0
        try:
            with temp.open("wb") as handle:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise self._too_large(limit)
                    digest.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
            _fsync_dir(self.root)
        finally:
            temp.unlink(missing_ok=True)
        return size, digest.hexdigest()

    def write(self, file_id: str, chunks: Iterable[bytes], limit: int) -> tuple[int, str]:
        """Synchronous :meth:`write_async`."""
        import asyncio

        async def gen() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        return asyncio.run(self.write_async(file_id, gen(), limit))

    def read(self, file_id: str) -> bytes:
        path = self.path(file_id)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"No such File object: {file_id}", param="file_id") from None

    def delete(self, file_id: str) -> None:
        self.path(file_id).unlink(missing_ok=True)
        _fsync_dir(self.root)

    def sweep(self, known: set[str], *, older_than: float = 3600.0) -> int:
        """Remove leftovers of interrupted uploads and bytes whose row is gone; returns how many.

        Only entries older than ``older_than`` seconds: a younger one may be an upload that
        another process is finishing right now (bytes are renamed in before the row is added).
        """
        removed, cutoff = 0, time.time() - older_than
        for entry in self.root.iterdir():
            orphan = entry.name.startswith(_TEMP_PREFIX) or (
                is_valid_id(entry.name, FILE_PREFIX) and entry.name not in known
            )
            if orphan and entry.stat().st_mtime < cutoff:
                entry.unlink(missing_ok=True)
                removed += 1
        return removed
