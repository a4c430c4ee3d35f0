"""Rows of the store → OpenAI's objects, in one place (reference §4–§6)."""

from __future__ import annotations

from typing import Any

from openrft.server.api._types.evals import Eval, EvalRun, OutputItem
from openrft.server.api._types.files import FileObject
from openrft.server.api._types.fine_tuning import (
    FineTuningJob,
    FineTuningJobCheckpoint,
    FineTuningJobEvent,
    Hyperparameters,
    JobProgress,
)
from openrft.server.api._types.graders import SavedGrader
from openrft.store import (
    CheckpointRow,
    EvalRow,
    EvalRunRow,
    FileRow,
    JobEventRow,
    JobRow,
    OutputItemRow,
    SavedGraderRow,
)

ORGANIZATION = "org-openrft"
"""What ``organization_id`` says: one local organization per server."""


def file_object(row: FileRow) -> FileObject:
    return FileObject(
        id=row.id,
        bytes=row.bytes,
        created_at=row.created_at,
        expires_at=row.expires_at,
        filename=row.filename,
        purpose=row.purpose,
        status=row.status,  # type: ignore[arg-type]
        status_details=row.status_details,
    )


def _hyperparameters(method: dict[str, Any]) -> Hyperparameters:
    kind = method.get("type") or "reinforcement"
    chosen = (method.get(kind) or {}).get("hyperparameters") or {}
    return Hyperparameters(
        batch_size=chosen.get("batch_size", "auto"),
        learning_rate_multiplier=chosen.get("learning_rate_multiplier", "auto"),
        n_epochs=chosen.get("n_epochs", "auto"),
    )


def job_object(row: JobRow, best_valid_reward: float | None = None) -> FineTuningJob:
    return FineTuningJob(
        id=row.id,
        created_at=row.created_at,
        error=row.error or None,
        fine_tuned_model=row.fine_tuned_model,
        finished_at=row.finished_at,
        hyperparameters=_hyperparameters(row.method),
        model=row.model,
        organization_id=ORGANIZATION,
        result_files=list(row.result_files or []),
        seed=row.seed,
        status=row.status,  # type: ignore[arg-type]
        trained_tokens=row.trained_tokens,
        training_file=row.training_file,
        validation_file=row.validation_file,
        integrations=row.integrations,
        method=row.method,
        metadata=row.job_metadata,
        user_provided_suffix=row.suffix,
        eval_id=row.eval_id,
        openrft=JobProgress(
            step=row.step,
            total_steps=row.total_steps,
            attempts=row.attempts,
            best_valid_reward_mean=best_valid_reward,
        ),
    )


def event_object(row: JobEventRow) -> FineTuningJobEvent:
    level = row.level if row.level in ("info", "warn", "error") else "info"
    return FineTuningJobEvent(
        id=row.id,
        created_at=row.created_at,
        level=level,  # type: ignore[arg-type]
        message=row.message,
        type=row.type,
        data=row.data,
    )


def checkpoint_object(row: CheckpointRow) -> FineTuningJobCheckpoint:
    return FineTuningJobCheckpoint(
        id=row.id,
        created_at=row.created_at,
        fine_tuned_model_checkpoint=row.fine_tuned_model_checkpoint,
        fine_tuning_job_id=row.job_id,
        metrics=row.metrics or {},
        step_number=row.step_number,
    )


def eval_object(row: EvalRow) -> Eval:
    return Eval(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        metadata=row.eval_metadata,
        data_source_config=row.data_source_config,
        testing_criteria=row.testing_criteria,
    )


def report_url(eval_id: str, run_id: str) -> str:
    """Where the dashboard shows the run (a path on this server)."""
    return f"/#/evals/{eval_id}/runs/{run_id}"


def run_object(row: EvalRunRow) -> EvalRun:
    return EvalRun.model_validate(
        {
            "id": row.id,
            "eval_id": row.eval_id,
            "status": row.status,
            "model": row.model,
            "name": row.name,
            "created_at": row.created_at,
            "report_url": report_url(row.eval_id, row.id),
            "result_counts": row.result_counts,
            "per_model_usage": row.per_model_usage,
            "per_testing_criteria_results": row.per_testing_criteria_results,
            "data_source": row.data_source,
            "metadata": row.run_metadata,
            "error": row.error,
        }
    )


def output_item_object(row: OutputItemRow) -> OutputItem:
    return OutputItem.model_validate(
        {
            "id": row.id,
            "run_id": row.run_id,
            "eval_id": row.eval_id,
            "created_at": row.created_at,
            "status": row.status,
            "datasource_item_id": row.datasource_item_id,
            "datasource_item": row.datasource_item,
            "results": row.results,
            "sample": row.sample,
        }
    )


def saved_grader_object(row: SavedGraderRow) -> SavedGrader:
    return SavedGrader(
        id=row.id, name=row.name, grader=row.grader, created_at=row.created_at, updated_at=row.updated_at
    )
