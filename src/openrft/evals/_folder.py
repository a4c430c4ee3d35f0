"""An eval folder and the one owner of its files.

``EvalFolder(path)`` reads and writes everything an eval leaves behind:

* ``config.json``: what was asked (models, data and grader hashes, criteria, runs, sampling
  options, limit) and its fingerprint; a resumed eval must match it. ``answers`` holds one
  fingerprint per model: the model itself (a local folder counts by its files' sizes and
  times) and everything its answers depend on, so another eval can tell whether this one's
  answers can be reused;
* ``results.jsonl``: one record per answer (:class:`ResultsFile`, appended as graded);
* ``summary.json``: :func:`openrft.evals.summarize` plus the configuration;
* ``report.html``: :func:`openrft.evals.render_report` of the summary.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from openrft.data import read_jsonl, write_atomic
from openrft.errors import InvalidRequestError
from openrft.evals._criteria import Criterion
from openrft.evals._records import EvalRecord, ResultsFile, fingerprint
from openrft.evals._report import render_report
from openrft.models import GenerationOptions

ANSWER_SETTINGS = ("data_sha256", "graders_sha256", "criteria", "runs", "options", "limit", "batch_size")
"""What a model's answers and grades depend on, besides the model itself."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_identity(model: str) -> str:
    """What makes a model the same one later: a local folder or file by its files' names, sizes
    and modification times (retraining into ``runs/job/best`` changes it); anything else by name."""
    path = Path(model)
    if not path.exists():
        return model
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    stamps = [
        (str(p.relative_to(path)) if p != path else p.name, p.stat().st_size, p.stat().st_mtime_ns)
        for p in files
    ]
    return f"{path.resolve()}:{_sha256(json.dumps(stamps).encode())[:16]}"


def eval_config(
    models: Mapping[str, str],
    data: Path,
    criteria: Sequence[Criterion],
    *,
    runs: int,
    options: GenerationOptions,
    limit: int | None,
    batch_size: int,
) -> dict[str, Any]:
    """The configuration an eval folder pins (``models``: label → model). The data file counts by
    content, not by path; ``answers`` fingerprints each label's answers."""
    graders = [c.grader.to_wire() for c in criteria]
    config: dict[str, Any] = {
        "models": dict(models),
        "data_sha256": _sha256(data.read_bytes()),
        "graders_sha256": _sha256(json.dumps(graders, sort_keys=True).encode()),
        "criteria": [
            {"name": c.name, "type": c.grader.type, "pass_threshold": c.pass_threshold} for c in criteria
        ],
        "runs": runs,
        "options": dict(vars(options)),
        "limit": limit,
        "batch_size": batch_size,
    }
    settings = {key: config[key] for key in ANSWER_SETTINGS}
    config["answers"] = {
        label: fingerprint({"model": model, "identity": model_identity(model), **settings})
        for label, model in models.items()
    }
    return config


class EvalFolder:
    """The folder of one eval: ``config.json``, ``results.jsonl``, ``summary.json``, ``report.html``."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise InvalidRequestError(f"{self.path}: exists and is not a folder", param="out")

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def results_path(self) -> Path:
        return self.path / "results.jsonl"

    @property
    def summary_path(self) -> Path:
        return self.path / "summary.json"

    @property
    def report_path(self) -> Path:
        return self.path / "report.html"

    def open_results(self, config: Mapping[str, Any]) -> ResultsFile:
        """The results file to append to; refuses a folder that holds another configuration."""
        existing = self.config()
        if existing is not None and existing.get("fingerprint") != fingerprint(config):
            changed = [k for k in config if k != "answers" and existing.get(k) != config[k]]
            if not changed and existing.get("answers") != config.get("answers"):
                changed = ["a model's files"]
            raise InvalidRequestError(
                f"{self.path} holds an eval with a different configuration (changed: "
                f"{', '.join(changed) or 'unknown'}); use another --out folder or delete it",
                param="out",
            )
        return ResultsFile(self.path, config)

    def config(self) -> dict[str, Any] | None:
        """``config.json``, or ``None`` when it is missing or unreadable."""
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def records(self, model: str | None = None) -> list[EvalRecord]:
        """The complete records in ``results.jsonl`` (of one model when given)."""
        out = []
        for row in read_jsonl(self.results_path):
            try:
                record = EvalRecord.from_json(row)
            except (KeyError, TypeError):
                continue  # not a record
            if model is None or record.model == model:
                out.append(record)
        return out

    def summary(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.summary_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def write_summary(self, summary: Mapping[str, Any], *, title: str) -> None:
        """``summary.json`` and ``report.html``, each replaced whole."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.summary_path, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        write_atomic(self.report_path, render_report(summary, title=title))


def reusable_answers(
    label: str, config: Mapping[str, Any], sources: Sequence[Path]
) -> tuple[list[EvalRecord], Path | None, list[str]]:
    """A previous eval's answers of the model labelled ``label`` in ``config``, if any matches.

    A source's answers match when their fingerprint is the same (whatever label they had there);
    they come back relabelled. Returns the records, the folder they come from, and one line
    per source that did not match saying what differs.
    """
    wanted, model = config["answers"][label], config["models"][label]
    misses: list[str] = []
    for source in sources:
        other = EvalFolder(source)
        theirs = other.config() or {}
        same = [k for k, fp in (theirs.get("answers") or {}).items() if fp == wanted]
        if same:
            records = [replace(r, model=label) for r in other.records(same[0])]
            if records:
                return records, source, misses
            misses.append(f"{source}: no answers of {model} yet")
            continue
        changed = [key for key in ANSWER_SETTINGS if theirs.get(key) != config.get(key)]
        theirs_models = theirs.get("models") or {}
        if model not in (theirs_models.values() if isinstance(theirs_models, dict) else theirs_models):
            changed.insert(0, f"no answers of {model}")
        elif not changed:
            changed.append("the model's files")
        misses.append(f"{source}: nothing to reuse for {model} (differs: {', '.join(changed)})")
    return [], None, misses


def sibling_folders(out: Path) -> list[Path]:
    """Other eval folders beside ``out`` (where an earlier ``--out`` most likely is), newest first."""
    parent = Path(out).resolve().parent
    if not parent.is_dir():
        return []
    here = Path(out).resolve()
    found = [p for p in parent.iterdir() if p.is_dir() and p != here and (p / "config.json").is_file()]
    return sorted(found, key=lambda p: (p / "config.json").stat().st_mtime, reverse=True)
