"""Rows of the store → OpenAI's objects, in one place (reference §4–§6)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from openrft.server.api._types.evals import Eval, EvalRun, OutputItem
from openrft.server.api._types.files import FILE_STATUS, FileObject
from openrft.server.api._types.fine_tuning import (
    EventLevel,
    FineTuningJob,
    FineTuningJobCheckpoint,
    FineTuningJobEvent,
    Hyperparameters,
    JobError,
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
    JobStatus,
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
        status=FILE_STATUS.validate_python(row.status),
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
        error=JobError.model_validate(row.error) if row.error else None,
        fine_tuned_model=row.fine_tuned_model,
        finished_at=row.finished_at,
        hyperparameters=_hyperparameters(row.method),
        model=row.model,
        organization_id=ORGANIZATION,
        result_files=list(row.result_files or []),
        seed=row.seed,
        status=row.status,
        trained_tokens=row.trained_tokens,
        estimated_finish=row.estimated_finish if row.status == JobStatus.RUNNING else None,
        usage_metrics=row.usage_metrics,
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


_LEVELS: dict[str, EventLevel] = {"info": "info", "warn": "warn", "error": "error"}


def event_object(row: JobEventRow) -> FineTuningJobEvent:
    return FineTuningJobEvent(
        id=row.id,
        created_at=row.created_at,
        level=_LEVELS.get(row.level, "info"),
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


public_base_url: ContextVar[str] = ContextVar("openrft_public_base_url", default="")
"""The server's root as the request's client reached it (``http://127.0.0.1:8000/``); the evals
router sets it for each request, so that ``report_url`` is absolute as OpenAI's is."""


def report_url(eval_id: str, run_id: str) -> str:
    """Where the dashboard shows the run, as an absolute URL on this server."""
    return f"{public_base_url.get().rstrip('/')}/#/evals/{eval_id}/runs/{run_id}"


NO_ERROR = {"code": "", "message": ""}
"""What an object-typed ``error`` says when there is none (the client types it as an object)."""


def run_object(row: EvalRunRow) -> EvalRun:
    return EvalRun.model_validate(
        {
            "id": row.id,
            "eval_id": row.eval_id,
            "status": row.status,
            "model": row.model or "",
            "name": row.name,
            "created_at": row.created_at,
            "report_url": report_url(row.eval_id, row.id),
            "result_counts": row.result_counts,
            "per_model_usage": row.per_model_usage or [],
            "per_testing_criteria_results": row.per_testing_criteria_results or [],
            "data_source": row.data_source,
            "metadata": row.run_metadata,
            "error": row.error or NO_ERROR,
        }
    )


def sample_object(sample: dict[str, Any] | None) -> dict[str, Any]:
    """An output item's ``sample`` in the SDK's ``Sample`` shape, whatever was stored: a sampled
    answer (complete already), or a ``jsonl`` row's given sample (``output_text`` or chat
    ``choices``), whose sampling fields are then zero."""
    given = dict(sample or {})
    output = given.get("output")
    if not isinstance(output, list):
        choices = given.get("choices") if isinstance(given.get("choices"), list) else []
        message = choices[0].get("message", {}) if choices and isinstance(choices[0], dict) else {}
        text = given.get("output_text", message.get("content"))
        output = [{"role": "assistant", "content": None if text is None else str(text)}]
    usage = given.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    return {
        "input": given.get("input") if isinstance(given.get("input"), list) else [],
        "output": output,
        "finish_reason": str(given.get("finish_reason") or "stop"),
        "model": str(given.get("model") or ""),
        "usage": {
            key: int(usage.get(key) or 0)
            for key in ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens")
        },
        "error": given.get("error") or NO_ERROR,
        "temperature": 1.0 if (temperature := given.get("temperature")) is None else float(temperature),
        "max_completion_tokens": int(given.get("max_completion_tokens") or 0),
        "top_p": 1.0 if (top_p := given.get("top_p")) is None else float(top_p),
        "seed": int(given.get("seed") or 0),
    }


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
            "sample": sample_object(row.sample),
        }
    )


def saved_grader_object(row: SavedGraderRow) -> SavedGrader:
    return SavedGrader(
        id=row.id, name=row.name, grader=row.grader, created_at=row.created_at, updated_at=row.updated_at
    )
