"""One record per (model, item, run), and the append-only results file an eval resumes from."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from openrft.data import read_jsonl
from openrft.errors import InvalidRequestError

RecordKey = tuple[str, int, int]
"""(model, item index, run)."""


@dataclass
class EvalRecord:
    """What one sampled answer got: its text, its usage and every criterion's verdict."""

    model: str
    item_index: int
    run: int
    line: int
    """Line of the item in its data file (1-based)."""
    prompt: list[dict[str, Any]]
    """The messages sampled from, as the data file gave them."""
    output: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    scores: dict[str, float]
    """Criterion name → reward."""
    passed: dict[str, bool]
    errors: dict[str, list[str]]
    """Criterion name → error flags raised while grading."""
    reference: Any = None
    """What the prediction is shown beside: ``item.reference_answer``, else the whole item."""
    labelled: bool = False
    """Whether ``reference`` is an ``item.reference_answer`` (label skew counts only those)."""
    sub_rewards: dict[str, dict[str, float]] = field(default_factory=dict)
    output_tools: list[dict[str, Any]] = field(default_factory=list)
    """The function calls of the answer (OpenAI's ``tool_calls`` shape), when tools were given."""
    judge_samples: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Criterion name → its model grader's exchange with the judge (``input``, ``output``)."""

    @property
    def key(self) -> RecordKey:
        return (self.model, self.item_index, self.run)

    @property
    def score(self) -> float:
        """The combined score: the mean of the criteria rewards."""
        return sum(self.scores.values()) / len(self.scores) if self.scores else 0.0

    @property
    def passed_all(self) -> bool:
        return bool(self.passed) and all(self.passed.values())

    @property
    def errored(self) -> bool:
        return any(self.errors.values())

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "score": self.score, "passed_all": self.passed_all}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvalRecord:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})


def fingerprint(config: Mapping[str, Any]) -> str:
    """A stable hash of an eval's configuration (what a resumed run must match)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


class ResultsFile:
    """``results.jsonl``: one record per line, flushed as written, so a killed eval resumes.

    A half-written last line (the process died mid-write) is cut off when the file is opened.
    ``config.json`` beside it pins the configuration; resuming into a different one is refused.
    """

    def __init__(self, out_dir: Path, config: Mapping[str, Any]):
        self.dir = Path(out_dir)
        self.path = self.dir / "results.jsonl"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._check_config(dict(config))
        self.records: dict[RecordKey, EvalRecord] = {}
        self._load()
        self._handle = self.path.open("a", encoding="utf-8")

    def _check_config(self, config: dict[str, Any]) -> None:
        path = self.dir / "config.json"
        wanted = {**config, "fingerprint": fingerprint(config)}
        if path.exists():
            try:
                existing = json.loads(path.read_text())
            except json.JSONDecodeError:
                existing = {}
            if existing.get("fingerprint") != wanted["fingerprint"]:
                changed = sorted(k for k in config if existing.get(k) != config[k])
                raise InvalidRequestError(
                    f"{self.dir} holds an eval with a different configuration (changed: "
                    f"{', '.join(changed) or 'unknown'}); use another --out folder or delete it",
                    param="out",
                )
            return
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(wanted, indent=2, default=str) + "\n")
        os.replace(tmp, path)

    def _load(self) -> None:
        if not self.path.exists():
            return
        raw = self.path.read_bytes()
        good = raw if raw.endswith(b"\n") or not raw else raw[: raw.rfind(b"\n") + 1]
        if len(good) != len(raw):
            with self.path.open("r+b") as handle:
                handle.truncate(len(good))
        for row in read_jsonl(self.path):
            record = EvalRecord.from_json(row)
            self.records[record.key] = record

    def has(self, key: RecordKey) -> bool:
        return key in self.records

    def add(self, records: Iterable[EvalRecord]) -> None:
        for record in records:
            if record.key in self.records:
                continue
            self.records[record.key] = record
            self._handle.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
