"""Reading an RFT dataset (OpenAI's training/validation JSONL) and reporting every problem in it.

One line is one row: ``{"messages": [...], <any other field>...}``. ``messages`` (and ``tools``)
are the only reserved keys; every other field is the row's *item*, what grader templates read
as ``{{item.field}}`` (openai-rft-api.md §5.8). Nothing is skipped silently: a problem makes the
file invalid and names ``FILE:LINE``; what is tolerated (a byte-order mark, CRLF endings, blank
lines, ``system`` roles, content parts) is either invisible by nature or reported as a warning.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeGuard

from openrft.config import Settings
from openrft.data._messages import check_messages, check_tools
from openrft.errors import InvalidRequestError

Split = Literal["train", "valid"]
SPLITS: tuple[Split, ...] = ("train", "valid")


def _is_split(value: str) -> TypeGuard[Split]:
    return value in SPLITS


BOM = b"\xef\xbb\xbf"
_SHOWN_IN_MESSAGE = 3


@dataclass(frozen=True)
class DatasetLimits:
    """Size limits checked when a file is read (defaults: OpenAI's, see ``Settings``)."""

    max_train_rows: int = 50_000
    max_valid_rows: int = 1_000
    max_line_bytes: int = 1_048_576

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DatasetLimits:
        """The limits configured by ``OPENRFT_MAX_TRAIN_ROWS``, ``_MAX_VALID_ROWS``, ``_MAX_LINE_BYTES``."""
        settings = settings or Settings()
        return cls(settings.max_train_rows, settings.max_valid_rows, settings.max_line_bytes)

    def max_rows(self, split: Split) -> int:
        return self.max_train_rows if split == "train" else self.max_valid_rows


@dataclass(frozen=True)
class RFTRow:
    """One prompt: its normalised messages and its item (every field but ``messages``)."""

    line: int
    messages: list[dict[str, Any]]
    item: dict[str, Any]


@dataclass
class RFTDataset:
    """A valid dataset file. ``warnings`` lists what was tolerated (blank lines, ``system`` roles…)."""

    path: Path
    split: Split
    rows: list[RFTRow]
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[RFTRow]:
        return iter(self.rows)


class DatasetError(InvalidRequestError):
    """A dataset file has problems; ``problems`` lists every one as ``FILE:LINE: what is wrong``."""

    def __init__(self, path: Path, split: Split, problems: list[str]):
        self.path = path
        self.split = split
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        shown = "; ".join(problems[:_SHOWN_IN_MESSAGE])
        more = (
            f"; … and {len(problems) - _SHOWN_IN_MESSAGE} more (openrft data validate {path} lists them)"
            if len(problems) > _SHOWN_IN_MESSAGE
            else ""
        )
        super().__init__(
            f"{path}: {count} in this {split} file: {shown}{more}",
            param="training_file" if split == "train" else "validation_file",
            code="invalid_file",
        )


@dataclass
class DatasetReport:
    """Everything reading a file found: the rows that parsed, the problems and the warnings."""

    path: Path
    split: Split
    rows: list[RFTRow]
    problems: list[str]
    warnings: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def dataset(self) -> RFTDataset:
        """The dataset, or :class:`DatasetError` listing every problem."""
        if self.problems:
            raise DatasetError(self.path, self.split, self.problems)
        return RFTDataset(self.path, self.split, self.rows, self.warnings)


class _Tolerated:
    """Warnings of one kind, kept as line numbers and written once per file."""

    def __init__(self, text: str):
        self.text = text
        self.lines: list[int] = []

    def render(self, path: Path) -> str | None:
        if not self.lines:
            return None
        first, rest = self.lines[0], self.lines[1:]
        if not rest:
            return f"{path}:{first}: {self.text}"
        shown = ", ".join(str(n) for n in rest[:8]) + (", …" if len(rest) > 8 else "")
        return f"{path}:{first}: {self.text} (and {len(rest)} more: line {shown})"


def _lines(path: Path, max_bytes: int) -> Iterator[tuple[int, bytes | int]]:
    """(line number, bytes without the line ending), or the byte count of a line over ``max_bytes``.

    A line over the limit is never held in memory whole.
    """
    with path.open("rb") as handle:
        number = 0
        while True:
            raw = handle.readline(max_bytes + 2)  # room for CRLF
            if not raw:
                return
            number += 1
            if not raw.endswith(b"\n") and len(raw) > max_bytes:
                size = len(raw)
                while raw and not raw.endswith(b"\n"):
                    raw = handle.readline(1 << 20)
                    size += len(raw)
                yield number, size - (1 if raw.endswith(b"\n") else 0)
                continue
            body = raw.rstrip(b"\n").removesuffix(b"\r")
            yield number, (len(body) if len(body) > max_bytes else body)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse(body: bytes, number: int) -> tuple[Any, str | None]:
    """The line's JSON value, or a problem (without the ``FILE:LINE:`` prefix)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"invalid UTF-8 at byte {exc.start + 1} of the line (the file must be UTF-8)"
    if number == 1 and text.startswith("\ufeff"):  # a BOM that was not UTF-8's (e.g. double)
        return None, "unexpected byte-order mark"
    try:
        return json.loads(text, parse_constant=_reject_constant), None
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON at column {exc.colno}: {exc.msg}"
    except ValueError as exc:
        return None, f"invalid JSON: {exc}"


def _read_row(body: bytes, number: int) -> tuple[RFTRow | None, list[str], set[str]]:
    """(row, problems without the ``FILE:LINE:`` prefix, kinds of tolerated things) for one line."""
    value, problem = _parse(body, number)
    if problem is not None:
        return None, [problem], set()
    if not isinstance(value, dict):
        kind = "an array" if isinstance(value, list) else f"a {type(value).__name__}"
        return None, [f"expected a JSON object, got {kind}"], set()
    if "messages" not in value:
        return None, ["missing 'messages': every row needs the prompt as a list of messages"], set()
    check = check_messages(value["messages"])
    problems = list(check.problems)
    if "tools" in value:
        problems += check_tools(value["tools"])
    kinds = {kind for kind, used in (("system", check.used_system), ("parts", check.joined_parts)) if used}
    if problems:
        return None, problems, kinds
    item = {key: v for key, v in value.items() if key != "messages"}
    return RFTRow(line=number, messages=check.messages, item=item), [], kinds


def check_rft_jsonl(
    path: str | Path, split: str = "train", limits: DatasetLimits | None = None
) -> DatasetReport:
    """Read an RFT JSONL file and report every problem and warning; never raises for its content.

    Raises :class:`InvalidRequestError` only for an unknown ``split`` (any string may be given).
    """
    if not _is_split(split):
        raise InvalidRequestError(f"split {split!r} is not one of train, valid", param="split")
    path = Path(path)
    limits = limits or DatasetLimits.from_settings()
    max_rows = limits.max_rows(split)
    rows: list[RFTRow] = []
    problems: list[str] = []
    tolerated = {
        "bom": _Tolerated("UTF-8 byte-order mark at the start of the file ignored"),
        "blank": _Tolerated("blank line skipped"),
        "system": _Tolerated("role 'system' read as 'developer' (RFT prompts have no system role)"),
        "parts": _Tolerated("content given as text parts, joined into one string"),
        "duplicate": _Tolerated("same messages as an earlier row"),
    }
    seen: dict[str, int] = {}
    count = 0
    try:
        for number, body in _lines(path, limits.max_line_bytes):
            if isinstance(body, int):
                count += 1
                problems.append(
                    f"{path}:{number}: the line is {body:,} bytes, over the limit of "
                    f"{limits.max_line_bytes:,} (OPENRFT_MAX_LINE_BYTES)"
                )
                continue
            if number == 1 and body.startswith(BOM):
                body = body[len(BOM) :]
                tolerated["bom"].lines.append(1)
            if not body.strip():
                tolerated["blank"].lines.append(number)
                continue
            count += 1
            if count == max_rows + 1:
                problems.append(
                    f"{path}:{number}: row {count:,} is over the limit of {max_rows:,} rows for a "
                    f"{split} file (OPENRFT_MAX_{split.upper()}_ROWS)"
                )
            row, row_problems, kinds = _read_row(body, number)
            problems += [f"{path}:{number}: {p}" for p in row_problems]
            for kind in kinds:
                tolerated[kind].lines.append(number)
            if row is None:
                continue
            rows.append(row)
            key = json.dumps(row.messages, sort_keys=True, ensure_ascii=False)
            if key in seen:
                tolerated["duplicate"].lines.append(number)
            else:
                seen[key] = number
    except FileNotFoundError:
        return DatasetReport(path, split, [], [f"{path}: no such file"], [])
    except OSError as exc:
        return DatasetReport(path, split, [], [f"{path}: cannot read: {exc.strerror or exc}"], [])
    if count == 0:
        problems.append(f"{path}:1: the file holds no rows")
    warnings = [text for t in tolerated.values() if (text := t.render(path))]
    return DatasetReport(path, split, rows, problems, warnings)


def load_rft_jsonl(
    path: str | Path, split: Split = "train", limits: DatasetLimits | None = None
) -> RFTDataset:
    """Read a training (``train``) or validation (``valid``) file.

    Raises :class:`DatasetError` listing every problem (``error.problems``) when any is found.
    Limits default to ``Settings`` (``OPENRFT_MAX_TRAIN_ROWS`` etc.).
    """
    return check_rft_jsonl(path, split, limits).dataset()
