"""The process that runs one claimed job or eval run: ``python -m openrft.server.worker._executor job ID``.

A fine-tuning job runs :func:`openrft.training.run_training` in the job's folder
(``DATA_DIR/jobs/<id>``); training resumes by itself from the latest complete checkpoint
there, so a job restarted after a crash continues where it stopped. Training's events are
mirrored into the store as they come (and re-synced on start, after training drops the steps
it is about to redo); checkpoints become ``…:ckpt-step-N`` models, the best one the job's
``ft:…`` model. SIGUSR1 asks training to pause (checkpoint, then stop).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from openrft.config import Settings
from openrft.errors import OpenRFTError
from openrft.server._shared import fine_tuned_name, job_event, stored_model_registry
from openrft.server.worker._outputs import estimated_finish, save_results, trained_tokens, usage_metrics
from openrft.server.worker._process import die_with_parent, read_handoff
from openrft.server.worker._validation import drop_validations_after, record_validation, recorded_steps
from openrft.store import CheckpointRow, JobRow, JobStatus, ModelRow, Store, new_id, now
from openrft.training import JobFolder

log = logging.getLogger("openrft.executor")

RESOLVED_HYPERPARAMETERS = (
    "batch_size",
    "learning_rate_multiplier",
    "n_epochs",
    "eval_interval",
    "eval_samples",
)
"""The hyperparameters a job shows resolved (OpenAI's names) once training has chosen them."""

_HELD = {JobStatus.RUNNING, JobStatus.PAUSED}
"""The statuses of a job its executor still holds (a paused one finishes its step first)."""


class TrainingMirror:
    """``on_event`` for :func:`run_training`: copies events, progress and checkpoints into the store."""

    def __init__(self, store: Store, job: JobRow, reference: str | None = None):
        self.store = store
        self.job = job
        self.out = store.job_dir(job.id)
        self.folder = JobFolder(self.out)
        # What stored events say instead of server paths: the model's name, folders in the job's.
        self.hidden = {str(self.out) + "/": "", str(self.out): ".", str(store.data_dir): "DATA_DIR"}
        if reference and reference != job.model:
            self.hidden = {reference: job.model, **self.hidden}
        self._synced = False
        self._resolved = False
        self.steps: dict[int, dict[str, Any]] = {}
        """Each step's metrics (a step redone after a resume replaces the first try)."""
        self.saved: dict[int, dict[str, Any]] = {}
        """The checkpoints training reported, by step: their events' data and ``created_at``."""

    def __call__(self, event: dict[str, Any]) -> None:
        if not self._synced:
            # Training has just rewound its log to the resume point: mirror that log as it is now.
            self._synced = True
            on_disk = self.folder.events()
            for saved in on_disk:
                self.note_checkpoint(saved)
            self.store.drop_job_events(self.job.id, source="training", keep={e["id"] for e in on_disk})
            self.store.add_job_events(self.job.id, [self.public(e) for e in on_disk], source="training")
            self.sync_checkpoints()
            self.sync_validations(on_disk)
            self.steps = {
                int(e["data"]["step"]): e["data"]
                for e in on_disk
                if e.get("type") == "metrics" and e.get("data")
            }
        else:
            self.store.add_job_events(self.job.id, [self.public(event)], source="training")
            self.note_checkpoint(event)
        self.record_resolved()
        data = event.get("data")
        data = data if isinstance(data, dict) else {}
        if event.get("type") == "metrics":
            self.store.set_job_progress(self.job.id, data.get("step"), data.get("total_steps"))
            self.steps[int(data["step"])] = data
            self.store.update(
                JobRow,
                self.job.id,
                trained_tokens=trained_tokens(self.steps),
                usage_metrics=usage_metrics(self.steps),
                estimated_finish=estimated_finish(self.steps),
            )
            if data.get("full_valid_mean_reward") is not None:
                record_validation(self.store, self.job, int(data["step"]), self.checkpoint_name(data["step"]))
        if "checkpoint" in data:
            self.sync_checkpoints()

    def public(self, value: Any) -> Any:
        """``value`` with every server path replaced (events reach API clients)."""
        if isinstance(value, str):
            for secret, shown in self.hidden.items():
                value = value.replace(secret, shown)
            return value
        if isinstance(value, dict):
            return {k: self.public(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.public(v) for v in value]
        return value

    def record_resolved(self) -> None:
        """Once training has resolved its hyperparameters, the job echoes them instead of ``auto``."""
        resolved = None if self._resolved else self.folder.hyperparameters()
        if resolved is None:
            return
        self._resolved = True
        method = dict(self.job.method)
        kind = method.get("type") or "reinforcement"
        chosen = dict(method.get(kind) or {})
        given = dict(chosen.get("hyperparameters") or {})
        for key in RESOLVED_HYPERPARAMETERS:
            if given.get(key) in (None, "auto") and key in resolved:
                given[key] = resolved[key]
        method[kind] = {**chosen, "hyperparameters": given}
        self.store.update(JobRow, self.job.id, method=method)

    def sync_validations(self, on_disk: list[dict[str, Any]]) -> None:
        """Match the job's eval runs to the validations in the (rewound) log."""
        validated = [
            int(e["data"]["step"])
            for e in on_disk
            if e.get("type") == "metrics" and (e.get("data") or {}).get("full_valid_mean_reward") is not None
        ]
        last = max((int(e["data"]["step"]) for e in on_disk if e.get("type") == "metrics"), default=0)
        drop_validations_after(self.store, self.job, last)
        recorded = recorded_steps(self.store, self.job)
        for step in validated:
            if step not in recorded:
                record_validation(self.store, self.job, step, self.checkpoint_name(step))

    def checkpoint_name(self, step: int) -> str:
        return f"{fine_tuned_name(self.job.model, self.job.suffix, self.job.id)}:ckpt-step-{step}"

    def note_checkpoint(self, event: dict[str, Any]) -> None:
        """Remember a checkpoint event (the log is read once, not again per checkpoint)."""
        data = event.get("data")
        if isinstance(data, dict) and "checkpoint" in data:
            self.saved[int(data["step"])] = {**data, "created_at": event.get("created_at") or now()}

    def sync_checkpoints(self) -> None:
        """Record the checkpoints training reported whose folders still exist; forget pruned ones."""
        if not self._synced:  # no event mirrored yet: what the log holds
            for event in self.folder.events():
                self.note_checkpoint(event)
        on_disk = self.folder.checkpoints()
        present = {step: data for step, data in self.saved.items() if step in on_disk}
        known = self.store.checkpoint_steps(self.job.id)
        for step, data in sorted(present.items()):
            if step in known:
                continue
            name = self.checkpoint_name(step)
            self.store.put_checkpoint(
                CheckpointRow(
                    id=new_id("ftckpt_"),
                    job_id=self.job.id,
                    created_at=int(data["created_at"]),
                    step_number=step,
                    fine_tuned_model_checkpoint=name,
                    metrics=data.get("metrics") or {"step": step},
                    path=str(data["checkpoint"]),
                ),
                ModelRow(
                    id=name,
                    kind="checkpoint",
                    path=str(data["checkpoint"]),
                    created_at=now(),
                    owned_by="openrft",
                    job_id=self.job.id,
                    project=self.job.project,
                ),
            )
        self.store.drop_checkpoints(self.job.id, set(present))


def _outputs(store: Store, job: JobRow, mirror: TrainingMirror | None) -> dict[str, Any]:
    """A finished job's results file (when it ran a step) and no estimated finish."""
    if mirror is None or not mirror.steps:
        return {"estimated_finish": None}
    return {"estimated_finish": None, "result_files": [save_results(store, job, mirror.steps)]}


def _fail(
    store: Store,
    job: JobRow,
    code: str,
    message: str,
    param: str | None = None,
    mirror: TrainingMirror | None = None,
) -> None:
    error = {"code": code, "message": message, "param": param}
    failed = store.jobs.transition(
        job.id,
        _HELD,
        JobStatus.FAILED,
        error=error,
        finished_at=now(),
        control=None,
        **_outputs(store, job, mirror),
    )
    text = f"Job failed: {message}"
    [latest], _ = store.job_events_page(job.id, after=None, limit=1)
    if failed and latest.message != text:  # training has often said it already
        store.add_job_events(job.id, [job_event(text, level="error")])


def _train_config(store: Store, job: JobRow, core: Settings) -> Any:
    from openrft.errors import InvalidRequestError
    from openrft.training import TrainConfig, parse_hyperparameters

    reinforcement = job.method.get("reinforcement") or {}
    files = {}
    for param, file_id in (("training_file", job.training_file), ("validation_file", job.validation_file)):
        if file_id is None:
            continue
        path = store.files.path(file_id)
        if not path.exists():
            raise InvalidRequestError(f"{param} {file_id} was deleted before the job ran", param=param)
        files[param] = path
    reference = stored_model_registry(store, core).reference(job.model)
    return TrainConfig(
        model=reference,
        train_file=files["training_file"],
        valid_file=files.get("validation_file"),
        grader=reinforcement["grader"],
        out_dir=store.job_dir(job.id),
        hyperparameters=parse_hyperparameters(
            {**(reinforcement.get("hyperparameters") or {}), "seed": job.seed}
        ),
        response_format=reinforcement.get("response_format"),
        allow_exploits=reinforcement.get("preflight") != "fail",  # API jobs warn unless told to fail
        rollout_prefix=job.id,  # its policy versions on a rollout server: <job id>-v<step>
    )


def run_job(store: Store, job_id: str, worker_id: str, core: Settings) -> None:
    """Train (or resume) ``job_id``, then record its outcome; never raises for the job's own errors."""
    job = store.get(JobRow, job_id)
    verb = "resumed" if job.attempts > 1 else "started"
    store.add_job_events(
        job_id, [job_event(f"Fine-tuning job {verb} on worker {worker_id} (attempt {job.attempts})")]
    )
    mirror: TrainingMirror | None = None
    try:
        from openrft.training import JobControl, run_training

        config = _train_config(store, job, core)
        control = JobControl()
        signal.signal(signal.SIGUSR1, lambda *_: control.pause())
        mirror = TrainingMirror(store, job, reference=str(config.model))
        result = run_training(config, control=control, on_event=mirror, settings=core)
        mirror.sync_checkpoints()
    except OpenRFTError as exc:
        _fail(store, job, exc.code or "invalid_request", exc.message, exc.param, mirror)
        return
    except Exception as exc:
        traceback.print_exc()
        _fail(
            store,
            job,
            "internal_error",
            f"{type(exc).__name__}: {exc} (traceback in the job's executor.log)",
            mirror=mirror,
        )
        return
    if result.status == JobStatus.SUCCEEDED:
        name = fine_tuned_name(job.model, job.suffix, job.id)
        best = result.best_checkpoint or _latest_checkpoint(store, job_id)
        if best is not None:
            store.put_model(
                ModelRow(
                    id=name,
                    kind="fine-tuned",
                    path=str(best),
                    created_at=now(),
                    owned_by="openrft",
                    job_id=job_id,
                    project=job.project,
                )
            )
        done = store.jobs.transition(
            job_id,
            _HELD,
            JobStatus.SUCCEEDED,
            fine_tuned_model=name if best is not None else None,
            finished_at=now(),
            control=None,
            **_outputs(store, job, mirror),
        )
        if done:
            store.add_job_events(job_id, [job_event("The job has successfully completed")])
    elif result.status == JobStatus.PAUSED:
        store.add_job_events(
            job_id, [job_event("Job paused; resume it to continue from its last checkpoint")]
        )


def _latest_checkpoint(store: Store, job_id: str) -> Path | None:
    row = store.latest_checkpoint(job_id)
    return Path(row.path) if row is not None else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m openrft.server.worker._executor",
        description="Run one job or eval run; the settings come as JSON on standard input.",
    )
    parser.add_argument("kind", choices=["job", "run"])
    parser.add_argument("ident")
    parser.add_argument("--worker", required=True)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    die_with_parent(args.parent)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    settings, core = read_handoff(sys.stdin)
    store = settings.open_store()
    try:
        if args.kind == "job":
            run_job(store, args.ident, args.worker, core)
        else:
            from openrft.server.worker._eval_run import run_eval_run

            run_eval_run(store, args.ident, core)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
