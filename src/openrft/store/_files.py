"""Uploaded bytes on disk, under ``DATA_DIR/files/<file_id>``.

The path on disk is built from the server's own id only (checked by :func:`is_valid_id`);
the client's filename is kept in the database for display and never touches the file
system, so no filename can escape the folder. Each upload is written to a temporary file
in the same folder, fsynced, renamed into place and the folder fsynced: a kill at any point
leaves either no file or the whole file, never a torn one.

An upload in progress holds an exclusive ``flock`` on its file (temporary, then renamed) until
its row is in the database; :meth:`FileStore.sweep` removes only files nobody holds, so it can
run on a timer without touching another process's upload, and the bytes a killed upload
left behind go at the next sweep. A full disk is an :class:`InsufficientStorageError` (507).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from openrft.store._errors import InsufficientStorageError, NotFoundError, PayloadTooLargeError
from openrft.store._ids import is_valid_id

FILE_PREFIX = "file-"
_TEMP_PREFIX = ".upload-"


_FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_full(exc: OSError) -> InsufficientStorageError:
    return InsufficientStorageError(
        "the server's disk is full: the upload was not stored; retry once space is freed", code="disk_full"
    )


@dataclass
class Upload:
    """Bytes received and fsynced, held (``flock``) until :meth:`FileStore.finish`."""

    path: Path
    size: int
    sha256: str
    fd: int


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

    async def receive(self, chunks: AsyncIterator[bytes], limit: int) -> Upload:
        """Write ``chunks`` to a held temporary file. Over ``limit``: 413; a full disk: 507."""
        temp = self._temp()
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        digest, size = hashlib.sha256(), 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise self._too_large(limit)
                digest.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError as exc:
            self._drop(temp, fd)
            raise disk_full(exc) if exc.errno in _FULL else exc from None
        except BaseException:
            self._drop(temp, fd)
            raise
        return Upload(temp, size, digest.hexdigest(), fd)

    def place(self, upload: Upload, file_id: str) -> None:
        """Rename a received upload to ``file_id`` (still held: record its row, then :meth:`finish`)."""
        try:
            os.replace(upload.path, self.path(file_id))
            _fsync_dir(self.root)
        except OSError as exc:
            raise disk_full(exc) if exc.errno in _FULL else exc from None
        upload.path = self.path(file_id)

    def finish(self, upload: Upload, *, keep: bool) -> None:
        """Let go of an upload: kept (its row is recorded) or removed."""
        if not keep:
            upload.path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            os.close(upload.fd)

    @staticmethod
    def _drop(path: Path, fd: int) -> None:
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            os.close(fd)

    async def write_async(self, file_id: str, chunks: AsyncIterator[bytes], limit: int) -> tuple[int, str]:
        """Store ``chunks`` under ``file_id`` at once; returns (bytes, sha256). Over ``limit``: 413."""
        upload = await self.receive(chunks, limit)
        try:
            self.place(upload, file_id)
        except BaseException:
            self.finish(upload, keep=False)
            raise
        self.finish(upload, keep=True)
        return upload.size, upload.sha256

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

    def sweep(self, known: Callable[[], set[str]], *, older_than: float = 60.0) -> int:
        """Remove leftovers of interrupted uploads and bytes whose row is gone; returns how many.

        ``known`` gives the ids that have a row. An entry some process holds is an upload in
        progress and is left alone; so is one younger than ``older_than`` seconds (a margin for
        file systems where another machine's lock is not seen).
        """
        removed, cutoff = 0, time.time() - older_than
        candidates = [
            e
            for e in self.root.iterdir()
            if e.name.startswith(_TEMP_PREFIX) or is_valid_id(e.name, FILE_PREFIX)
        ]
        rows = known()
        for entry in candidates:
            if entry.name in rows:
                continue
            with contextlib.suppress(FileNotFoundError):
                if entry.stat().st_mtime < cutoff and self._remove_unheld(entry, known):
                    removed += 1
        return removed

    @staticmethod
    def _remove_unheld(entry: Path, known: Callable[[], set[str]]) -> bool:
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False  # an upload in progress
        try:
            # Its writer may have recorded the row and let go just before we took the lock.
            if entry.name.startswith(_TEMP_PREFIX) or entry.name not in known():
                entry.unlink(missing_ok=True)
                return True
            return False
        finally:
            os.close(fd)
