"""A fine-tuning job's validations as an eval: one eval per job, one completed run per validation.

The eval is created with the job by the API (its ``eval_id`` is on the job object). Its testing criterion is
the job's grader; each validation step becomes a run named ``validation step N`` whose output
items are the policy's answers on the validation file at that step, read from the job folder
(:meth:`openrft.training.JobFolder.validation`). Recording is idempotent: a resumed job that
redoes a step replaces that step's run.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from openrft.data import load_rft_jsonl
from openrft.evals import criteria_of, graded_answer
from openrft.models import GenerationOptions
from openrft.server.worker._eval_run import record_outcome
from openrft.store import EvalRow, EvalRunRow, JobRow, RunStatus, Store, now
from openrft.training import JobFolder


def _step_of(run: EvalRunRow) -> int | None:
    step = (run.run_metadata or {}).get("step")
    return int(step) if isinstance(step, int | str) and str(step).isdigit() else None


def record_validation(store: Store, job: JobRow, step: int, model: str) -> str | None:
    """Turn the validation at ``step`` into a completed run of the job's eval; its id (None: no eval)."""
    ev = store.find(EvalRow, job.eval_id) if job.eval_id else None
    records = JobFolder(store.job_dir(job.id)).validation(step)
    if ev is None or job.validation_file is None or records is None:
        return None
    for run in store.job_runs(job.id):
        if _step_of(run) == step:
            store.delete(EvalRunRow, run.id)
    rows = load_rft_jsonl(Path(store.files.path(job.validation_file)), "valid").rows
    resolved = JobFolder(store.job_dir(job.id)).hyperparameters() or {}
    options = GenerationOptions(temperature=float(resolved.get("temperature", 1.0)))
    criteria = criteria_of(ev.testing_criteria)
    graded = [
        graded_answer(r, rows[r.item_index].item, rows[r.item_index].messages, criteria, model, options)
        for r in records
    ]
    run = EvalRunRow(
        id=f"evalrun_{uuid.uuid4().hex}",
        eval_id=ev.id,
        name=f"validation step {step}",
        created_at=now(),
        model=model,
        data_source={
            "type": "completions",
            "source": {"type": "file_id", "id": job.validation_file},
            "model": model,
        },
        run_metadata={"fine_tuning_job_id": job.id, "step": str(step)},
        result_counts={"total": 0, "errored": 0, "failed": 0, "passed": 0},
        status=RunStatus.IN_PROGRESS,
        job_id=job.id,
        project=job.project,
    )
    store.add(run)
    fields = record_outcome(store, run, ev, graded)
    store.runs.transition(run.id, {RunStatus.IN_PROGRESS}, RunStatus.COMPLETED, **fields)
    return run.id


def recorded_steps(store: Store, job: JobRow) -> set[int]:
    """The validation steps of ``job`` recorded in full (a run cut short by a kill is redone)."""
    return {
        step
        for run in store.job_runs(job.id)
        if run.status == RunStatus.COMPLETED and (step := _step_of(run)) is not None
    }


def drop_validations_after(store: Store, job: JobRow, step: int) -> None:
    """Forget the validation runs of steps a resumed job is about to redo."""
    for run in store.job_runs(job.id):
        run_step = _step_of(run)
        if run_step is not None and run_step > step:
            store.delete(EvalRunRow, run.id)
