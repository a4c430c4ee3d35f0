"""Graders: run and validate (OpenAI's alpha endpoints), and the playground's saved graders."""

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
from openrft.server.api._serialize import saved_grader_object
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

    async def run(self, request: RunGraderRequest) -> RunGraderResponse:
        # Structure, templates and formula: a 400 for a bad grader. A python source that fails is
        # a result (python_grader_runtime_error), as OpenAI reports it, so it is not loaded here.
        validate_grader(request.grader, check_source=False)
        return await run_grader_async(
            request.grader, request.model_sample, request.item, runtime=self.runtime
        )

    async def validate(self, grader: dict[str, Any]) -> ValidateGraderResponse:
        checked = await asyncio.to_thread(validate_grader, grader, runtime=self.runtime)
        return ValidateGraderResponse(grader=checked.to_wire())

    async def save(self, request: SavedGraderCreate) -> SavedGrader:
        grader = await asyncio.to_thread(validate_grader, request.grader, runtime=self.runtime)
        created = now()
        row = SavedGraderRow(
            id=new_id("grader_"),
            name=request.name,
            grader=grader.to_wire(),
            created_at=created,
            updated_at=created,
        )
        return saved_grader_object(self.store.add(row))

    def list(self, *, after: str | None, limit: int, order: Literal["asc", "desc"]) -> ListPage[SavedGrader]:
        rows, more = self.store.page(SavedGraderRow, after=after, limit=limit, order=order)
        return list_page([saved_grader_object(r) for r in rows], more)

    def get(self, grader_id: str) -> SavedGrader:
        return saved_grader_object(self.store.get(SavedGraderRow, grader_id, param="grader_id"))

    def delete(self, grader_id: str) -> SavedGraderDeleted:
        self.store.get(SavedGraderRow, grader_id, param="grader_id")
        self.store.delete(SavedGraderRow, grader_id)
        return SavedGraderDeleted(id=grader_id, deleted=True)
