"""``/v1/fine_tuning/jobs`` (reinforcement), plus openrft's ``metrics`` and ``rollouts`` views."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from openrft.server.api._state import PrincipalDep, StateDep
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
async def create_job(
    state: StateDep, principal: PrincipalDep, body: CreateFineTuningJobRequest
) -> FineTuningJob:
    return await state.jobs.create(principal, body)


@router.get("", response_model=ListPage[FineTuningJob])
def list_jobs(
    state: StateDep, principal: PrincipalDep, request: Request, after: str | None = None, limit: Limit = 20
) -> ListPage[FineTuningJob]:
    return state.jobs.list(principal, after=after, limit=limit, metadata=_metadata_filter(request))


@router.get("/{fine_tuning_job_id}", response_model=FineTuningJob)
def retrieve_job(state: StateDep, principal: PrincipalDep, fine_tuning_job_id: str) -> FineTuningJob:
    return state.jobs.get(principal, fine_tuning_job_id)


@router.post("/{fine_tuning_job_id}/cancel", response_model=FineTuningJob)
def cancel_job(state: StateDep, principal: PrincipalDep, fine_tuning_job_id: str) -> FineTuningJob:
    return state.jobs.cancel(principal, fine_tuning_job_id)


@router.post("/{fine_tuning_job_id}/pause", response_model=FineTuningJob)
def pause_job(state: StateDep, principal: PrincipalDep, fine_tuning_job_id: str) -> FineTuningJob:
    return state.jobs.pause(principal, fine_tuning_job_id)


@router.post("/{fine_tuning_job_id}/resume", response_model=FineTuningJob)
def resume_job(state: StateDep, principal: PrincipalDep, fine_tuning_job_id: str) -> FineTuningJob:
    return state.jobs.resume(principal, fine_tuning_job_id)


@router.get("/{fine_tuning_job_id}/events", response_model=ListPage[FineTuningJobEvent])
def list_events(
    state: StateDep,
    principal: PrincipalDep,
    fine_tuning_job_id: str,
    after: str | None = None,
    limit: Limit = 20,
) -> ListPage[FineTuningJobEvent]:
    return state.jobs.events(principal, fine_tuning_job_id, after=after, limit=limit)


@router.get("/{fine_tuning_job_id}/checkpoints", response_model=ListPage[FineTuningJobCheckpoint])
def list_checkpoints(
    state: StateDep,
    principal: PrincipalDep,
    fine_tuning_job_id: str,
    after: str | None = None,
    limit: Limit = 10,
) -> ListPage[FineTuningJobCheckpoint]:
    return state.jobs.checkpoints(principal, fine_tuning_job_id, after=after, limit=limit)


@router.get("/{fine_tuning_job_id}/metrics", response_model=JobMetrics)
def list_metrics(state: StateDep, principal: PrincipalDep, fine_tuning_job_id: str) -> Response:
    # Each step was checked as it was read, and goes out as stored (a long job's run to megabytes).
    return Response(state.jobs.metrics_json(principal, fine_tuning_job_id), media_type="application/json")


@router.get("/{fine_tuning_job_id}/rollouts", response_model=RolloutSteps)
def list_rollouts(
    state: StateDep,
    principal: PrincipalDep,
    fine_tuning_job_id: str,
    step: Annotated[int | None, Query(ge=0)] = None,
) -> RolloutSteps:
    return state.jobs.rollouts(principal, fine_tuning_job_id, step)
