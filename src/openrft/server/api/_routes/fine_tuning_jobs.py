"""``/v1/fine_tuning/jobs`` (reinforcement), plus openrft's ``metrics`` and ``rollouts`` views."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from openrft.server.api._state import StateDep
from openrft.server.api._types.common import ERROR_RESPONSES, ListPage
from openrft.server.api._types.fine_tuning import (
    CreateFineTuningJobRequest,
    FineTuningJob,
    FineTuningJobCheckpoint,
    FineTuningJobEvent,
    JobMetrics,
    RolloutSteps,
)

router = APIRouter(prefix="/v1/fine_tuning/jobs", tags=["fine_tuning"], responses=ERROR_RESPONSES)
Limit = Annotated[int, Query(ge=1, le=1000)]


def _metadata_filter(request: Request) -> dict[str, str] | None:
    """``metadata[key]=value`` query parameters (OpenAI's deepObject form)."""
    found = {
        key[len("metadata[") : -1]: value
        for key, value in request.query_params.items()
        if key.startswith("metadata[") and key.endswith("]")
    }
    return found or None


@router.post("", response_model=FineTuningJob)
async def create_job(state: StateDep, body: CreateFineTuningJobRequest) -> FineTuningJob:
    return await state.jobs.create(body)


@router.get("", response_model=ListPage[FineTuningJob])
def list_jobs(
    state: StateDep, request: Request, after: str | None = None, limit: Limit = 20
) -> ListPage[FineTuningJob]:
    return state.jobs.list(after=after, limit=limit, metadata=_metadata_filter(request))


@router.get("/{fine_tuning_job_id}", response_model=FineTuningJob)
def retrieve_job(state: StateDep, fine_tuning_job_id: str) -> FineTuningJob:
    return state.jobs.get(fine_tuning_job_id)


@router.post("/{fine_tuning_job_id}/cancel", response_model=FineTuningJob)
def cancel_job(state: StateDep, fine_tuning_job_id: str) -> FineTuningJob:
    return state.jobs.cancel(fine_tuning_job_id)


@router.post("/{fine_tuning_job_id}/pause", response_model=FineTuningJob)
def pause_job(state: StateDep, fine_tuning_job_id: str) -> FineTuningJob:
    return state.jobs.pause(fine_tuning_job_id)


@router.post("/{fine_tuning_job_id}/resume", response_model=FineTuningJob)
def resume_job(state: StateDep, fine_tuning_job_id: str) -> FineTuningJob:
    return state.jobs.resume(fine_tuning_job_id)


@router.get("/{fine_tuning_job_id}/events", response_model=ListPage[FineTuningJobEvent])
def list_events(
    state: StateDep, fine_tuning_job_id: str, after: str | None = None, limit: Limit = 20
) -> ListPage[FineTuningJobEvent]:
    return state.jobs.events(fine_tuning_job_id, after=after, limit=limit)


@router.get("/{fine_tuning_job_id}/checkpoints", response_model=ListPage[FineTuningJobCheckpoint])
def list_checkpoints(
    state: StateDep, fine_tuning_job_id: str, after: str | None = None, limit: Limit = 10
) -> ListPage[FineTuningJobCheckpoint]:
    return state.jobs.checkpoints(fine_tuning_job_id, after=after, limit=limit)


@router.get("/{fine_tuning_job_id}/metrics", response_model=JobMetrics)
def list_metrics(state: StateDep, fine_tuning_job_id: str) -> JobMetrics:
    return state.jobs.metrics(fine_tuning_job_id)


@router.get("/{fine_tuning_job_id}/rollouts", response_model=RolloutSteps)
def list_rollouts(
    state: StateDep, fine_tuning_job_id: str, step: Annotated[int | None, Query(ge=0)] = None
) -> RolloutSteps:
    return state.jobs.rollouts(fine_tuning_job_id, step)
