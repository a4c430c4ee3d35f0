"""Graders: run and validate (OpenAI's alpha endpoints), and the playground's saved graders.

Python graders run in sandbox pools of the caller's project (``GraderRuntime.for_project``):
no worker ever grades two projects' items. A saved grader belongs to its project.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from openrft.graders import (
    GraderRuntime,
    RunGraderRequest,
    RunGraderResponse,
    run_grader_async,
    validate_grader,
)
from openrft.server._shared import Principal
from openrft.server.api._serialize import saved_grader_object
from openrft.server.api._services.files import owned
from openrft.server.api._types.common import ListPage, list_page
from openrft.server.api._types.graders import (
    SavedGrader,
    SavedGraderCreate,
    SavedGraderDeleted,
    ValidateGraderResponse,
)
from openrft.store import SavedGraderRow, Store, new_id, now


class GraderService:
    def __init__(self, store: Store, runtime: GraderRuntime):
        self.store = store
        self.runtime = runtime

    async def run(self, principal: Principal, request: RunGraderRequest) -> RunGraderResponse:
        # Structure, templates and formula: a 400 for a bad grader. A python source that fails is
        # a result (python_grader_runtime_error), as OpenAI reports it, so it is not loaded here.
        validate_grader(request.grader, check_source=False)
        runtime = self.runtime.for_project(principal.project)
        return await run_grader_async(request.grader, request.model_sample, request.item, runtime=runtime)

    async def validate(self, principal: Principal, grader: dict[str, Any]) -> ValidateGraderResponse:
        runtime = self.runtime.for_project(principal.project)
        checked = await asyncio.to_thread(validate_grader, grader, runtime=runtime)
        return ValidateGraderResponse(grader=checked.to_wire())

    async def save(self, principal: Principal, request: SavedGraderCreate) -> SavedGrader:
        runtime = self.runtime.for_project(principal.project)
        grader = await asyncio.to_thread(validate_grader, request.grader, runtime=runtime)
        created = now()
        row = SavedGraderRow(
            id=new_id("grader_"),
            name=request.name,
            grader=grader.to_wire(),
            created_at=created,
            updated_at=created,
            project=principal.project,
        )
        return saved_grader_object(self.store.add(row))

    def list(
        self, principal: Principal, *, after: str | None, limit: int, order: Literal["asc", "desc"]
    ) -> ListPage[SavedGrader]:
        rows, more = self.store.graders_page(project=principal.scope, after=after, limit=limit, order=order)
        return list_page([saved_grader_object(r) for r in rows], more)

    def _row(self, principal: Principal, grader_id: str) -> SavedGraderRow:
        return self.store.get(SavedGraderRow, grader_id, param="grader_id", **owned(principal))

    def get(self, principal: Principal, grader_id: str) -> SavedGrader:
        return saved_grader_object(self._row(principal, grader_id))

    def delete(self, principal: Principal, grader_id: str) -> SavedGraderDeleted:
        self._row(principal, grader_id)
        self.store.delete(SavedGraderRow, grader_id)
        return SavedGraderDeleted(id=grader_id, deleted=True)
