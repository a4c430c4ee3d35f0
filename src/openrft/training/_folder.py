"""A training job's folder: :class:`JobFolder` is the only reader and writer of its files.

Layout (``OUT`` is ``openrft train --out``, or ``DATA_DIR/jobs/<id>`` on the server)::

    job.json               the job as given (JobSpec): written by ``openrft train``, read on resume
    hyperparameters.json   the resolved hyperparameters (written once the job starts)
    preflight.json         the preflight's report (once per job)
    events.jsonl           OpenAI's fine_tuning.job.event objects, one a line
    metrics.jsonl          one StepMetrics a line, one line per step
    rollouts.jsonl         one line per step: every prompt's completions, rewards, advantages
    validation/step-N.jsonl   every answer of the validation at step N (evals records)
    checkpoints/           checkpoint-N folders (written whole), scores.json
    best/                  the best checkpoint's model, loadable by openrft.models and transformers
    policy/                LoRA versions for a rollout server (docs/vllm.md)
    launch.log, .pause     the output of launched processes; a pause request to them
    executor.log           on the server: the output of the process that ran the job (its
                           standard output and error, which the server's worker redirects)

JSONL lines are appended and fsynced one at a time, so a reader can follow a running job and a
killed job loses at most the line being written (:func:`openrft.data.read_jsonl` skips it).
A resumed job first drops every line of a step after its checkpoint (:meth:`rewind`), so each
step is recorded exactly once. Other files are replaced whole (temporary file, fsync, rename).

What must be shared between machines: everything here is written by the training process and
read by others. On one machine that is free. With the server on PostgreSQL and workers on
several machines, the API reads metrics and rollouts, and workers read uploads and write job
folders, all under ``DATA_DIR``: it must be one shared filesystem (NFS or similar) mounted at
the same path everywhere. A rollout server loads each LoRA version from ``policy/`` by path, so
it must see that folder at the same path too.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from openrft.data import read_jsonl, read_jsonl_from, write_atomic
from openrft.errors import InvalidRequestError
from openrft.training import _checkpoints
from openrft.training._config import TrainResult
from openrft.training._hyper import Resolved
from openrft.training._spec import JobSpec
from openrft.training._step_metrics import StepMetrics

if TYPE_CHECKING:
    from openrft.evals import EvalRecord

log = logging.getLogger(__name__)


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _lines(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


class JobFolder:
    """One job's folder (see the module docstring for its files)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.spec_path = self.path / "job.json"
        self.events_path = self.path / "events.jsonl"
        self.metrics_path = self.path / "metrics.jsonl"
        self.rollouts_path = self.path / "rollouts.jsonl"
        self.validation_dir = self.path / "validation"
        self.preflight_path = self.path / "preflight.json"
        self.hyperparameters_path = self.path / "hyperparameters.json"
        self.checkpoints_dir = self.path / "checkpoints"
        self.best_dir = self.path / "best"
        self.policy_dir = self.path / "policy"
        self.launch_log_path = self.path / "launch.log"
        self.pause_path = self.path / ".pause"

    def __repr__(self) -> str:
        return f"JobFolder({str(self.path)!r})"

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    # --- job.json ---
    def has_spec(self) -> bool:
        return self.spec_path.is_file()

    def read_spec(self) -> JobSpec:
        """The job as given; :class:`InvalidRequestError` when the folder holds none."""
        data = _read_json(self.spec_path)
        if data is None:
            raise InvalidRequestError(f"{self.path} holds no job (job.json is missing)", param="resume")
        return JobSpec.from_json(data, where=str(self.spec_path))

    def write_spec(self, spec: JobSpec) -> None:
        self.create()
        write_atomic(self.spec_path, json.dumps(spec.to_json(), indent=2) + "\n")

    # --- what the job resolved and found before its first step ---
    def hyperparameters(self) -> dict[str, Any] | None:
        return _read_json(self.hyperparameters_path)

    def write_hyperparameters(self, values: dict[str, Any]) -> None:
        write_atomic(self.hyperparameters_path, json.dumps(values, indent=1) + "\n")

    def preflight(self) -> dict[str, Any] | None:
        return _read_json(self.preflight_path)

    def write_preflight(self, report: dict[str, Any]) -> None:
        write_atomic(self.preflight_path, json.dumps(report, indent=1) + "\n")

    # --- events ---
    def append_event(self, event: dict[str, Any]) -> None:
        _append(self.events_path, event)

    def events(self) -> list[dict[str, Any]]:
        return read_jsonl(self.events_path)

    def events_from(self, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Events appended after byte ``offset``, and the offset to follow from next."""
        return read_jsonl_from(self.events_path, offset)

    def events_size(self) -> int:
        """Where the events log ends now (to follow only what comes next)."""
        return self.events_path.stat().st_size if self.events_path.exists() else 0

    # --- metrics ---
    def append_metrics(self, metrics: StepMetrics) -> None:
        _append(self.metrics_path, metrics.row())

    def metrics(self) -> list[StepMetrics]:
        """Every recorded step's metrics, in step order (a line that is not one is skipped)."""

        def parse(line: bytes) -> StepMetrics:
            try:
                return StepMetrics.model_validate_json(line)
            except ValidationError as exc:
                log.warning("%s: skipped a line that is not a step's metrics: %s", self.metrics_path, exc)
                raise

        return sorted(read_jsonl(self.metrics_path, parse=parse), key=lambda m: m.step)

    def metrics_lines(self) -> list[bytes]:
        """The same steps' lines as stored (each checked as :class:`StepMetrics`), to send on.

        For serving thousands of steps: the models are dropped as soon as each line is checked,
        where keeping them all made the garbage collector triple the time (1,000 steps: 37 ms
        to check, about 110 ms to keep, on the 2-core box).
        """

        def checked(line: bytes) -> tuple[int, bytes]:
            return StepMetrics.model_validate_json(line).step, line

        return [line for _, line in sorted(read_jsonl(self.metrics_path, parse=checked), key=lambda s: s[0])]

    # --- rollouts ---
    def append_rollouts(self, step: int, groups: list[dict[str, Any]]) -> None:
        _append(self.rollouts_path, {"step": step, "groups": groups})

    def rollout_steps(self) -> list[dict[str, int]]:
        """``{"step", "count"}`` for each recorded step: its number of prompts."""
        return [
            {"step": r["step"], "count": len(r.get("groups", []))} for r in read_jsonl(self.rollouts_path)
        ]

    def rollouts(self, step: int) -> list[dict[str, Any]] | None:
        """The groups of completions recorded at ``step`` (None: no rollouts at that step)."""
        found = [r for r in read_jsonl(self.rollouts_path) if r.get("step") == step]
        return list(found[-1].get("groups", [])) if found else None

    # --- validations ---
    def write_validation(self, step: int, records: list[dict[str, Any]]) -> None:
        """Every answer of the validation at ``step``, in one file replaced whole (a resumed job
        that redoes the step replaces it)."""
        self.validation_dir.mkdir(exist_ok=True)
        write_atomic(self.validation_dir / f"step-{step}.jsonl", _lines(records))

    def validation_steps(self) -> list[int]:
        """The steps whose validation is recorded, in order."""
        if not self.validation_dir.is_dir():
            return []
        names = (p.name.removeprefix("step-").removesuffix(".jsonl") for p in self.validation_dir.iterdir())
        return sorted(int(n) for n in names if n.isdigit())

    def validation(self, step: int) -> list[EvalRecord] | None:
        """The answers of the validation at ``step`` (None: not recorded)."""
        from openrft.evals import EvalRecord

        path = self.validation_dir / f"step-{step}.jsonl"
        if not path.is_file():
            return None
        return [EvalRecord.from_json(r) for r in read_jsonl(path)]

    def rewind(self, step: int) -> None:
        """Drop what was recorded for steps after ``step`` (a resumed job redoes them)."""

        def event_step(event: dict[str, Any]) -> Any:
            return event["data"].get("step") if isinstance(event.get("data"), dict) else None

        for path, step_of in (
            (self.metrics_path, lambda r: r.get("step")),
            (self.rollouts_path, lambda r: r.get("step")),
            (self.events_path, event_step),
        ):
            if path.exists():
                kept = [r for r in read_jsonl(path) if not isinstance(step_of(r), int) or step_of(r) <= step]
                write_atomic(path, _lines(kept))

    # --- checkpoints ---
    def checkpoints(self) -> dict[int, Path]:
        """The complete checkpoints, by step."""
        return _checkpoints.checkpoints(self.checkpoints_dir)

    def checkpoint_path(self, step: int) -> Path:
        """Where the checkpoint of ``step`` is (or will be once saved)."""
        return self.checkpoints_dir / f"{_checkpoints.PREFIX}{step}"

    def resume_point(self, *, clean: bool) -> tuple[int, Path] | None:
        """The latest complete checkpoint (its step and path); with ``clean``, half-written ones
        are removed first."""
        if clean:
            _checkpoints.clean_staging(self.checkpoints_dir)
        present = self.checkpoints()
        return (max(present), present[max(present)]) if present else None

    def record_score(self, step: int, *, valid: float | None, train: float, paused: bool = False) -> None:
        _checkpoints.record_score(self.checkpoints_dir, step, valid=valid, train=train, paused=paused)

    def score(self, step: int) -> dict[str, Any]:
        """``valid_reward_mean`` and ``train_reward_mean`` of the checkpoint at ``step`` ({} if none)."""
        return _checkpoints.read_scores(self.checkpoints_dir).get(step) or {}

    def prune(self, *, latest: int) -> None:
        _checkpoints.prune(self.checkpoints_dir, latest=latest)

    def export_best(self) -> tuple[int, Path] | None:
        """Copy the best checkpoint's model to ``best/``; its step and path (None: no checkpoint)."""
        return _checkpoints.export_best(self.checkpoints_dir, self.path)

    def best_step(self) -> int | None:
        """The step whose checkpoint ``best/`` holds (None: nothing exported yet)."""
        try:
            return int(_read_json(self.best_dir / _checkpoints.EXPORT_INFO)["step"])
        except (TypeError, ValueError, KeyError):
            return None

    def result(self, status: str) -> TrainResult:
        """How the job in this folder ended with ``status``, read back from its files."""
        metrics = self.metrics()
        best = self.best_step()
        resolved = self.hyperparameters()
        return TrainResult(
            status=status,
            best_checkpoint=self.best_dir if best is not None else None,
            best_step=best,
            hyperparameters=Resolved(**resolved) if resolved else None,
            final_metrics=metrics[-1].row() if metrics else None,
            preflight=self.preflight(),
            out_dir=self.path,
        )

    # --- a launched job's processes ---
    def request_pause(self) -> None:
        self.pause_path.touch()

    def pause_requested(self) -> bool:
        return self.pause_path.exists()

    def clear_pause(self) -> None:
        self.pause_path.unlink(missing_ok=True)
