"""Fine-tuning jobs: create (everything checked before the job exists), list, control, read back.

A job is checked in the request: the method (reinforcement), the grader (as
``graders/validate`` does), the hyperparameters, the model and both files (present, purpose
``fine-tune``, valid RFT JSONL for their split). It is then stored as ``validating_files`` and
moved to ``queued``, where a worker claims it. Pause, resume and cancel are status changes the
worker holding the job reads at its next heartbeat.

A job belongs to the project of the key that created it, and may only name that project's
files and models (another project's id is refused as an unknown one); its validation eval,
checkpoints and ``ft:`` model belong to the same project.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Collection, Mapping
from typing import Any

from openrft.config import Settings
from openrft.errors import GraderValidationError, InvalidRequestError
from openrft.evals import data_source_config
from openrft.graders import GraderRuntime, validate_grader
from openrft.models import parse_response_format
from openrft.server._shared import ModelRegistry, Principal, job_event
from openrft.server.api._serialize import checkpoint_object, event_object, job_object
from openrft.server.api._services.files import check_content, owned
from openrft.server.api._types.common import ListPage, list_page
from openrft.server.api._types.fine_tuning import (
    CreateFineTuningJobRequest,
    FineTuningJob,
    FineTuningJobCheckpoint,
    FineTuningJobEvent,
    RolloutSteps,
)
from openrft.store import (
    LIVE_JOB_STATUSES,
    ConflictError,
    EvalRow,
    FileRow,
    JobRow,
    JobStatus,
    Store,
    new_id,
    now,
)
from openrft.training import JobFolder

MAX_METADATA_PAIRS = 16


def job_eval(job_id: str, grader: dict[str, Any], metadata: dict[str, str] | None, project: str) -> EvalRow:
    """The eval that holds ``job_id``'s validation runs (one completed run per validation step).

    Its testing criterion is the job's grader; the worker records each validation as a run.
    """
    created = now()
    name = str(grader.get("name") or "grader")
    return EvalRow(
        id=f"eval_{uuid.uuid4().hex}",
        name=f"{job_id} validation",
        created_at=created,
        updated_at=created,
        eval_metadata={**(metadata or {}), "fine_tuning_job_id": job_id},
        data_source_config=data_source_config(
            {"type": "custom", "item_schema": {"type": "object"}, "include_sample_schema": True}
        ),
        testing_criteria=[{**grader, "name": name, "id": f"{name}-{uuid.uuid4()}"}],
        project=project,
    )


def _check_metadata(metadata: Mapping[str, str] | None) -> None:
    if not metadata:
        return
    if len(metadata) > MAX_METADATA_PAIRS:
        raise InvalidRequestError(f"metadata: at most {MAX_METADATA_PAIRS} pairs", param="metadata")
    for key, value in metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise InvalidRequestError(
                f"metadata.{key[:64]}: keys are at most 64 characters, values at most 512",
                param=f"metadata.{key[:64]}",
            )


class JobService:
    def __init__(
        self,
        store: Store,
        runtime: GraderRuntime,
        registry: ModelRegistry,
        settings: Settings,
        *,
        preflight: str = "warn",
    ):
        self.store = store
        self.runtime = runtime
        self.registry = registry
        self.settings = settings
        self.preflight = preflight
        """The server's default for what an exploitable grader does to a job (``warn``/``fail``)."""

    # --- create ---
    def _method(self, request: CreateFineTuningJobRequest) -> dict[str, Any]:
        method = request.method
        if method is None or method.type != "reinforcement":
            raise InvalidRequestError(
                "this server runs reinforcement fine-tuning: set method.type to 'reinforcement' "
                "with method.reinforcement.grader",
                param="method.type",
            )
        if method.reinforcement is None:
            raise InvalidRequestError(
                "Missing required parameter: 'method.reinforcement'.", param="method.reinforcement"
            )
        return method.model_dump(mode="json", exclude_none=True)

    def _check_grader(self, principal: Principal, grader: dict[str, Any]) -> None:
        try:
            validate_grader(grader, runtime=self.runtime.for_project(principal.project))
        except GraderValidationError as exc:
            param = (
                f"method.reinforcement.grader.{exc.param}"
                if exc.param and exc.param != "grader"
                else "method.reinforcement.grader"
            )
            raise GraderValidationError(
                f"method.reinforcement.grader.{exc.message}", param=param, code=exc.code
            ) from None

    def _check_hyperparameters(self, values: dict[str, Any], seed: int) -> None:
        from openrft.training import parse_hyperparameters

        try:
            parse_hyperparameters({**values, "seed": seed})
        except InvalidRequestError as exc:
            raise InvalidRequestError(
                f"method.reinforcement.{exc.message}", param=f"method.reinforcement.{exc.param}"
            ) from None

    def _check_file(self, principal: Principal, file_id: str | None, param: str, split: str) -> None:
        if file_id is None:
            return
        row = self.store.find(FileRow, file_id)
        if (
            row is None
            or not principal.owns(row.project)
            or (row.expires_at is not None and row.expires_at <= now())
        ):
            raise InvalidRequestError(
                f"{param}: no file with id {file_id!r}", param=param, code="invalid_file"
            )
        if row.purpose != "fine-tune":
            raise InvalidRequestError(
                f"{param}: {file_id} was uploaded with purpose {row.purpose!r}; "
                "upload it with purpose 'fine-tune'",
                param=param,
                code="invalid_file_purpose",
            )
        if (
            split == "valid"
        ):  # the upload was checked as a training file; a validation file has a lower row limit
            check_content(
                self.store.files.path(file_id),
                row.filename,
                "fine-tune",
                self.settings,
                param=param,
                split="valid",
            )

    def _validate(
        self, principal: Principal, request: CreateFineTuningJobRequest, seed: int
    ) -> dict[str, Any]:
        method = self._method(request)
        reinforcement = method["reinforcement"]
        self.registry.reference(request.model, principal=principal)
        self._check_file(principal, request.training_file, "training_file", "train")
        self._check_file(principal, request.validation_file, "validation_file", "valid")
        _check_metadata(request.metadata)
        parse_response_format(reinforcement.get("response_format"), "method.reinforcement.response_format")
        hyper = {**(request.hyperparameters or {}), **(reinforcement.get("hyperparameters") or {})}
        hyper = {k: v for k, v in hyper.items() if v is not None}  # null means "auto", as the SDK types it
        self._check_hyperparameters(hyper, seed)
        self._check_grader(principal, reinforcement["grader"])
        reinforcement["hyperparameters"] = hyper
        reinforcement.setdefault("response_format", None)
        preflight = request.preflight or reinforcement.get("preflight") or self.preflight
        if preflight not in ("warn", "fail"):
            raise InvalidRequestError(
                f"method.reinforcement.preflight: {preflight!r} is not one of warn, fail",
                param="method.reinforcement.preflight",
            )
        reinforcement["preflight"] = preflight
        return method

    async def create(self, principal: Principal, request: CreateFineTuningJobRequest) -> FineTuningJob:
        seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
        method = await asyncio.to_thread(self._validate, principal, request, seed)
        job = JobRow(
            id=new_id("ftjob-"),
            created_at=now(),
            model=request.model,
            training_file=request.training_file,
            validation_file=request.validation_file,
            suffix=request.suffix,
            seed=seed,
            method=method,
            job_metadata=request.metadata,
            integrations=request.integrations,
            status=JobStatus.VALIDATING_FILES,
            result_files=[],
            project=principal.project,
        )
        if request.validation_file is not None:
            ev = job_eval(job.id, method["reinforcement"]["grader"], request.metadata, principal.project)
            self.store.add(ev)
            job.eval_id = ev.id
        self.store.add(job)
        self.store.add_job_events(job.id, [job_event(f"Validating training file: {request.training_file}")])
        created = self.get(principal, job.id)
        self.store.jobs.transition(job.id, {JobStatus.VALIDATING_FILES}, JobStatus.QUEUED)
        self.store.add_job_events(job.id, [job_event("Files validated, moving job to queued state")])
        # The job as this request left it: once queued, a free worker may start it before a
        # read-back, and a create that answers "running" only some of the time is a flaky contract.
        return created.model_copy(update={"status": JobStatus.QUEUED})

    # --- read ---
    def _best_valid(self, job_ids: list[str]) -> dict[str, float]:
        """Each job's best validation reward, read off its checkpoints.

        Every validation saves a checkpoint and pruning always keeps the best one, so the
        checkpoints' maximum is the best validation (one query for a whole page of jobs).
        """
        best: dict[str, float] = {}
        for row in self.store.checkpoints_of(job_ids):
            value = (row.metrics or {}).get("valid_reward_mean")
            if isinstance(value, int | float) and value > best.get(row.job_id, float("-inf")):
                best[row.job_id] = float(value)
        return best

    def _objects(self, rows: list[JobRow]) -> list[FineTuningJob]:
        best = self._best_valid([r.id for r in rows]) if rows else {}
        return [job_object(r, best.get(r.id)) for r in rows]

    def job(self, principal: Principal, job_id: str) -> JobRow:
        """The caller's job ``job_id``; 404 when it is absent or another project's."""
        return self.store.get(JobRow, job_id, param="fine_tuning_job_id", **owned(principal))

    def get(self, principal: Principal, job_id: str) -> FineTuningJob:
        return self._objects([self.job(principal, job_id)])[0]

    def list(
        self, principal: Principal, *, after: str | None, limit: int, metadata: dict[str, str] | None
    ) -> ListPage[FineTuningJob]:
        rows, more = self.store.jobs_page(
            project=principal.scope, after=after, limit=limit, metadata=metadata
        )
        return list_page(self._objects(rows), more)

    def events(
        self, principal: Principal, job_id: str, *, after: str | None, limit: int
    ) -> ListPage[FineTuningJobEvent]:
        self.job(principal, job_id)
        rows, more = self.store.job_events_page(job_id, after=after, limit=limit)
        return list_page([event_object(r) for r in rows], more)

    def checkpoints(
        self, principal: Principal, job_id: str, *, after: str | None, limit: int
    ) -> ListPage[FineTuningJobCheckpoint]:
        self.job(principal, job_id)
        rows, more = self.store.checkpoints_page(job_id, after=after, limit=limit)
        return list_page([checkpoint_object(r) for r in rows], more)

    def metrics_json(self, principal: Principal, job_id: str) -> bytes:
        """Every recorded step's metrics, in step order, as a :class:`JobMetrics` JSON document:
        the job folder is their one source, and its checked lines are sent as stored."""
        self.job(principal, job_id)
        lines = JobFolder(self.store.job_dir(job_id)).metrics_lines()
        return b'{"object":"list","data":[' + b",".join(lines) + b"]}"

    def rollouts(self, principal: Principal, job_id: str, step: int | None) -> RolloutSteps:
        """Without ``step``: the recorded steps and their prompt counts; with it, that step's groups."""
        self.job(principal, job_id)
        folder = JobFolder(self.store.job_dir(job_id))
        if step is None:
            return RolloutSteps(data=list(folder.rollout_steps()))
        groups = folder.rollouts(step)
        if groups is None:
            raise InvalidRequestError(f"step: no rollouts recorded at step {step}", param="step")
        return RolloutSteps(data=groups)

    # --- control ---
    def _move(
        self,
        principal: Principal,
        job_id: str,
        expected: Collection[JobStatus],
        to: JobStatus,
        verb: str,
        **values: Any,
    ) -> FineTuningJob:
        self.job(principal, job_id)
        if not self.store.jobs.transition(job_id, expected, to, **values):
            current = self.store.get(JobRow, job_id).status
            raise ConflictError(
                f"Job {job_id} cannot be {verb}: its status is '{current}'", param="fine_tuning_job_id"
            )
        return self.get(principal, job_id)

    def cancel(self, principal: Principal, job_id: str) -> FineTuningJob:
        job = self._move(
            principal,
            job_id,
            LIVE_JOB_STATUSES,
            JobStatus.CANCELLED,
            "cancelled",
            finished_at=now(),
            control=None,
        )
        self.store.add_job_events(job_id, [job_event("Job cancelled")])
        return job

    def pause(self, principal: Principal, job_id: str) -> FineTuningJob:
        self.job(principal, job_id)
        # A queued job just waits; a running one is asked to checkpoint and stop. Queued first:
        # a worker may claim it meanwhile, and then it is paused as a running job.
        if not self.store.jobs.transition(job_id, {JobStatus.QUEUED}, JobStatus.PAUSED):
            self._move(principal, job_id, {JobStatus.RUNNING}, JobStatus.PAUSED, "paused", control="pause")
        self.store.add_job_events(
            job_id, [job_event("Job paused: the current step finishes and is checkpointed")]
        )
        return self.get(principal, job_id)

    def resume(self, principal: Principal, job_id: str) -> FineTuningJob:
        # attempts count the starts that ended in a crash: the start a resume leads to is not one
        # more try, so the start before the pause is given back.
        started = self.job(principal, job_id).attempts
        job = self._move(
            principal,
            job_id,
            {JobStatus.PAUSED},
            JobStatus.QUEUED,
            "resumed",
            control=None,
            attempts=max(started - 1, 0),
        )
        self.store.add_job_events(
            job_id, [job_event("Job resumed: queued to continue from its last checkpoint")]
        )
        return job
