"""The files openrft writes itself and reads back: JSONL logs that may still be growing, and
files replaced whole.

Job folders (``events.jsonl``, ``metrics.jsonl``, ``rollouts.jsonl``, validations) and eval
folders (``results.jsonl``) are appended one line at a time, and a process killed mid-write
leaves a half-written last line. This is the one reader of such files in openrft: it keeps the
JSON objects on complete lines and skips anything else, and it can resume from a byte offset so
that a viewer follows a running job. Files a user hands in are checked strictly instead, with
every bad line named (:func:`openrft.data.check_rft_jsonl`).

Files that are not appended to (a job's ``job.json``, an eval's ``summary.json``) are replaced
whole by :func:`write_atomic`, so a reader never sees half of one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def read_jsonl_from(
    path: Path, offset: int = 0, *, parse: Callable[[bytes], Any] | None = None
) -> tuple[list[Any], int]:
    """The values on the complete lines of ``path`` after byte ``offset``, and the offset to read
    from next (just past the last complete line).

    Each line is a JSON object, or whatever ``parse`` makes of its bytes (a pydantic model's
    ``model_validate_json`` parses and checks in one pass). A missing file reads as empty. A line
    without its newline (still being written, or cut by a kill) is left for the next call; a line
    that does not parse (``ValueError``, pydantic's ``ValidationError`` included) or, without
    ``parse``, is not a JSON object, is skipped.
    """
    try:
        with Path(path).open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
    except FileNotFoundError:
        return [], offset
    end = chunk.rfind(b"\n") + 1
    values = []
    for line in chunk[:end].splitlines():
        if not line.strip():
            continue
        try:
            value = parse(line) if parse is not None else json.loads(line)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            continue
        if parse is not None or isinstance(value, dict):
            values.append(value)
    return values, offset + end


def read_jsonl(path: Path, *, parse: Callable[[bytes], Any] | None = None) -> list[Any]:
    """Every value on a complete line of ``path`` (see :func:`read_jsonl_from`)."""
    return read_jsonl_from(path, parse=parse)[0]


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` all at once (temporary file, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
