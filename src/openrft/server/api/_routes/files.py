"""``/v1/files``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import FileResponse

from openrft.server.api._state import PrincipalDep, StateDep
from openrft.server.api._types.common import ERROR_RESPONSES, ListPage
from openrft.server.api._types.files import FileDeleted, FileObject

router = APIRouter(prefix="/v1/files", tags=["files"], responses=ERROR_RESPONSES)


@router.post("", response_model=FileObject, responses={413: ERROR_RESPONSES[400]})
async def create_file(
    state: StateDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File(description="The JSONL file")],
    # Documented as an enum; checked by the service, whose error names the allowed values.
    purpose: Annotated[
        str, Form(description="fine-tune or evals", json_schema_extra={"enum": ["fine-tune", "evals"]})
    ],
    expires_after_seconds: Annotated[
        int | None, Form(alias="expires_after[seconds]", ge=3600, le=2592000)
    ] = None,
) -> FileObject:
    return await state.files.create(principal, file, purpose, expires_after_seconds)


@router.get("", response_model=ListPage[FileObject])
def list_files(
    state: StateDep,
    principal: PrincipalDep,
    purpose: str | None = None,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 10000,
    order: Literal["asc", "desc"] = "desc",
) -> ListPage[FileObject]:
    return state.files.list(principal, purpose=purpose, after=after, limit=limit, order=order)


@router.get("/{file_id}", response_model=FileObject)
def retrieve_file(state: StateDep, principal: PrincipalDep, file_id: str) -> FileObject:
    return state.files.get(principal, file_id)


@router.get(
    "/{file_id}/content",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes"}},
)
def retrieve_file_content(state: StateDep, principal: PrincipalDep, file_id: str) -> FileResponse:
    path, row = state.files.content(principal, file_id)
    return FileResponse(path, media_type="application/octet-stream", filename=row.filename)


@router.delete("/{file_id}", response_model=FileDeleted)
def delete_file(state: StateDep, principal: PrincipalDep, file_id: str) -> FileDeleted:
    return state.files.delete(principal, file_id)
