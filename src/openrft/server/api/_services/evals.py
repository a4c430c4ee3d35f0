"""Evals, runs and output items: create (checked first), list, update, cancel, delete.

An eval stores its data-source config in OpenAI's output form (``schema`` with ``item`` and,
when asked, ``sample``: :func:`openrft.evals.data_source_config`) and gives each testing
criterion an ``id`` (``<name>-<uuid>``). A run is stored ``queued``; a worker claims it, samples
(``completions``/``responses``) or takes the given samples (``jsonl``), grades every item and
writes the output items.

An eval and its runs belong to the project of the key that created the eval; a run may only
name that project's files and models. Runs and output items are reached through their eval, so
another project's eval, run or item id answers 404 as an unknown one.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Literal

from openrft.errors import GraderValidationError, InvalidRequestError
from openrft.evals import DATA_SOURCES, data_source_config
from openrft.graders import GraderRuntime, validate_grader
from openrft.server._shared import ModelRegistry, Principal
from openrft.server.api._serialize import eval_object, output_item_object, run_object
from openrft.server.api._services.files import owned
from openrft.server.api._types.common import ListPage, list_page
from openrft.server.api._types.evals import (
    CreateEvalRequest,
    CreateEvalRunRequest,
    Eval,
    EvalDeleted,
    EvalRun,
    EvalRunDeleted,
    OutputItem,
    UpdateEvalRequest,
)
from openrft.store import (
    LIVE_RUN_STATUSES,
    ConflictError,
    EvalRow,
    EvalRunRow,
    FileRow,
    OutputItemRow,
    OutputItemStatus,
    RunStatus,
    Store,
    now,
)

Order = Literal["asc", "desc"]
MAX_EVAL_BYTES = 2 * 1024 * 1024
"""An eval's stored definition (data-source config and criteria): every list of evals returns it."""


class EvalService:
    def __init__(self, store: Store, runtime: GraderRuntime, registry: ModelRegistry):
        self.store = store
        self.runtime = runtime
        self.registry = registry

    # --- evals ---
    def _criteria(self, principal: Principal, criteria: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out, names = [], set()
        runtime = self.runtime.for_project(principal.project)
        for index, raw in enumerate(criteria):
            where = f"testing_criteria[{index}]"
            try:
                grader = validate_grader(raw, runtime=runtime)
            except GraderValidationError as exc:
                raise GraderValidationError(f"{where}.{exc.message}", param=f"{where}.{exc.param}") from None
            threshold = raw.get("pass_threshold")
            if threshold is not None and (
                isinstance(threshold, bool) or not isinstance(threshold, int | float)
            ):
                raise InvalidRequestError(
                    f"{where}.pass_threshold: a number is required", param=f"{where}.pass_threshold"
                )
            if grader.name in names:
                raise InvalidRequestError(
                    f"{where}.name: two testing criteria are named {grader.name!r}", param=f"{where}.name"
                )
            names.add(grader.name)
            out.append({**raw, "name": grader.name, "id": f"{grader.name}-{uuid.uuid4()}"})
        return out

    async def create(self, principal: Principal, request: CreateEvalRequest) -> Eval:
        config = data_source_config(request.data_source_config)
        size = len(json.dumps([config, request.testing_criteria]))
        if size > MAX_EVAL_BYTES:
            raise InvalidRequestError(
                f"testing_criteria: the eval's definition is {size:,} bytes; at most {MAX_EVAL_BYTES:,} "
                "(every GET /v1/evals returns it)",
                param="testing_criteria",
            )
        criteria = await asyncio.to_thread(self._criteria, principal, request.testing_criteria)
        created = now()
        row = EvalRow(
            id=f"eval_{uuid.uuid4().hex}",
            name=request.name or "eval",
            created_at=created,
            updated_at=created,
            eval_metadata=request.metadata,
            data_source_config=config,
            testing_criteria=criteria,
            project=principal.project,
        )
        self.store.add(row)
        return eval_object(row)

    def eval(self, principal: Principal, eval_id: str) -> EvalRow:
        """The caller's eval ``eval_id``; 404 when it is absent or another project's."""
        return self.store.get(EvalRow, eval_id, param="eval_id", **owned(principal))

    def get(self, principal: Principal, eval_id: str) -> Eval:
        return eval_object(self.eval(principal, eval_id))

    def list(
        self,
        principal: Principal,
        *,
        after: str | None,
        limit: int,
        order: Order,
        order_by: Literal["created_at", "updated_at"],
    ) -> ListPage[Eval]:
        rows, more = self.store.evals_page(
            project=principal.scope, after=after, limit=limit, order=order, order_by=order_by
        )
        return list_page([eval_object(r) for r in rows], more)

    def update(self, principal: Principal, eval_id: str, request: UpdateEvalRequest) -> Eval:
        self.eval(principal, eval_id)
        values: dict[str, Any] = {"updated_at": now()}
        if request.name is not None:
            values["name"] = request.name
        if request.metadata is not None:
            values["eval_metadata"] = request.metadata
        self.store.update(EvalRow, eval_id, **values)
        return self.get(principal, eval_id)

    def delete(self, principal: Principal, eval_id: str) -> EvalDeleted:
        self.eval(principal, eval_id)
        self.store.delete(EvalRow, eval_id)
        return EvalDeleted(deleted=True, eval_id=eval_id)

    # --- runs ---
    def _check_source(self, principal: Principal, source: Any, where: str) -> None:
        if not isinstance(source, dict):
            raise InvalidRequestError(f"{where}: an object is required", param=where)
        kind = source.get("type")
        if kind == "file_content":
            content = source.get("content")
            if not isinstance(content, list) or not all(
                isinstance(r, dict) and isinstance(r.get("item"), dict) for r in content
            ):
                raise InvalidRequestError(
                    f"{where}.content: a list of {{'item': {{…}}, 'sample': …}} objects is required",
                    param=f"{where}.content",
                )
        elif kind == "file_id":
            row = self.store.find(FileRow, str(source.get("id")))
            if row is None or not principal.owns(row.project):
                raise InvalidRequestError(
                    f"{where}.id: no file with id {source.get('id')!r}", param=f"{where}.id"
                )
        else:
            raise InvalidRequestError(
                f"{where}.type: {kind!r} is not one of file_content, file_id", param=f"{where}.type"
            )

    def _check_data_source(self, principal: Principal, data_source: dict[str, Any]) -> str | None:
        """Check a run's data source; returns the model it samples (None for ``jsonl``)."""
        kind = data_source.get("type")
        if kind not in DATA_SOURCES:
            raise InvalidRequestError(
                f"data_source.type: {kind!r} is not one of {', '.join(DATA_SOURCES)}",
                param="data_source.type",
            )
        self._check_source(principal, data_source.get("source"), "data_source.source")
        if kind == "jsonl":
            return None
        model = data_source.get("model")
        if not isinstance(model, str) or not model:
            raise InvalidRequestError(
                "data_source.model: a model name is required", param="data_source.model"
            )
        self.registry.reference(model, param="data_source.model", principal=principal)
        messages = data_source.get("input_messages")
        if not isinstance(messages, dict) or messages.get("type") not in ("template", "item_reference"):
            raise InvalidRequestError(
                "data_source.input_messages: {'type': 'template', 'template': [...]} or "
                "{'type': 'item_reference', 'item_reference': 'item.…'} is required",
                param="data_source.input_messages",
            )
        return model

    def create_run(self, principal: Principal, eval_id: str, request: CreateEvalRunRequest) -> EvalRun:
        ev = self.eval(principal, eval_id)
        model = self._check_data_source(principal, request.data_source)
        row = EvalRunRow(
            id=f"evalrun_{uuid.uuid4().hex}",
            eval_id=eval_id,
            name=request.name or f"{model or 'jsonl'} run",
            created_at=now(),
            model=model,
            data_source=request.data_source,
            run_metadata=request.metadata,
            result_counts={"total": 0, "errored": 0, "failed": 0, "passed": 0},
            status=RunStatus.QUEUED,
            project=ev.project,
        )
        self.store.add(row)
        return run_object(row)

    def _run(self, principal: Principal, eval_id: str, run_id: str) -> EvalRunRow:
        self.eval(principal, eval_id)
        return self.store.get(EvalRunRow, run_id, param="run_id", eval_id=eval_id)

    def get_run(self, principal: Principal, eval_id: str, run_id: str) -> EvalRun:
        return run_object(self._run(principal, eval_id, run_id))

    def list_runs(
        self,
        principal: Principal,
        eval_id: str,
        *,
        after: str | None,
        limit: int,
        order: Order,
        status: RunStatus | None,
    ) -> ListPage[EvalRun]:
        self.eval(principal, eval_id)
        rows, more = self.store.runs_page(eval_id, after=after, limit=limit, order=order, status=status)
        return list_page([run_object(r) for r in rows], more)

    def cancel_run(self, principal: Principal, eval_id: str, run_id: str) -> EvalRun:
        self._run(principal, eval_id, run_id)
        if not self.store.runs.transition(run_id, LIVE_RUN_STATUSES, RunStatus.CANCELED):
            current = self.store.get(EvalRunRow, run_id).status
            raise ConflictError(f"Run {run_id} cannot be canceled: its status is '{current}'", param="run_id")
        return self.get_run(principal, eval_id, run_id)

    def delete_run(self, principal: Principal, eval_id: str, run_id: str) -> EvalRunDeleted:
        self._run(principal, eval_id, run_id)
        self.store.delete(EvalRunRow, run_id)
        return EvalRunDeleted(deleted=True, run_id=run_id)

    # --- output items ---
    def output_items(
        self,
        principal: Principal,
        eval_id: str,
        run_id: str,
        *,
        after: str | None,
        limit: int,
        order: Order,
        status: OutputItemStatus | None,
    ) -> ListPage[OutputItem]:
        self._run(principal, eval_id, run_id)
        rows, more = self.store.output_items_page(
            run_id, after=after, limit=limit, order=order, status=status
        )
        return list_page([output_item_object(r) for r in rows], more)

    def output_item(self, principal: Principal, eval_id: str, run_id: str, item_id: str) -> OutputItem:
        self._run(principal, eval_id, run_id)
        return output_item_object(
            self.store.get(OutputItemRow, item_id, param="output_item_id", run_id=run_id)
        )
