"""Reading the user's files with errors that name the file, the line and what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openrft.errors import InvalidRequestError


def read_json_file(path: Path, what: str) -> Any:
    """Parse a JSON file; a syntax error names the line and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidRequestError(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"{path}: cannot read {what} file: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(
            f"{path}:{exc.lineno}:{exc.colno}: invalid JSON in {what}: {exc.msg}"
        ) from None


def text_or_file(value: str) -> str:
    """``@PATH`` reads a file, anything else is taken literally."""
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidRequestError(f"{path}: cannot read: {exc.strerror}") from None
    return value


def json_or_file(value: str, what: str) -> Any:
    """A JSON literal, or ``@PATH`` to a JSON file."""
    if value.startswith("@"):
        return read_json_file(Path(value[1:]), what)
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"--{what}: invalid JSON at column {exc.colno}: {exc.msg}") from None


def read_sample_pairs(path: Path) -> list[tuple[Any, dict[str, Any]]]:
    """Lines of ``{"sample": str|object, "item": object}``; every bad line is reported at once."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise InvalidRequestError(f"{path}: cannot read: {exc.strerror}") from None
    pairs: list[tuple[Any, dict[str, Any]]] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            problems.append(f"{path}:{number}: blank line")
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: invalid JSON at column {exc.colno}: {exc.msg}")
            continue
        if not isinstance(row, dict) or "sample" not in row:
            problems.append(f"{path}:{number}: expected an object with a 'sample' key")
        elif not isinstance(row["sample"], str | dict):
            problems.append(f"{path}:{number}: 'sample' must be a string or an object")
        elif not isinstance(row.get("item", {}), dict):
            problems.append(f"{path}:{number}: 'item' must be an object")
        else:
            pairs.append((row["sample"], row.get("item") or {}))
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise InvalidRequestError(f"{len(problems)} bad line(s) in {path}:\n  {shown}{more}")
    if not pairs:
        raise InvalidRequestError(f"{path}: no samples")
    return pairs
