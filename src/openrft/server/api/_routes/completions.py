"""``/v1/completions`` and vLLM's runtime LoRA endpoints, ``/v1/load_lora_adapter`` and
``/v1/unload_lora_adapter`` (what a trainer with a rollout server calls)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from openrft.server._shared import Principal
from openrft.server.api._errors import PermissionDeniedError
from openrft.server.api._state import PrincipalDep, StateDep
from openrft.server.api._types.common import ERROR_RESPONSES
from openrft.server.api._types.completions import (
    CreateCompletionRequest,
    LoadLoRAAdapterRequest,
    TextCompletion,
    UnloadLoRAAdapterRequest,
)

router = APIRouter(tags=["models"], responses=ERROR_RESPONSES)

# vLLM answers these two with plain text on success and its JSON error envelope otherwise.
_ADMIN_ERRORS: dict[int | str, dict[str, object]] = {
    **ERROR_RESPONSES,
    403: {"description": "The key is not an admin key (runtime LoRA loading needs one)"},
}
_PLAIN_SUCCESS: dict[int | str, dict[str, Any]] = {
    status: {
        "description": spec["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    for status, spec in _ADMIN_ERRORS.items()
}


@router.post("/v1/completions", response_model=TextCompletion)
async def create_completion(state: StateDep, body: CreateCompletionRequest) -> TextCompletion:
    return await state.completions.complete(body)


def _require_admin(principal: Principal) -> None:
    # The request names a folder the server reads, and the adapter is then offered to every
    # project: only the operator's keys may do that.
    if not principal.admin:
        raise PermissionDeniedError(
            "loading and unloading LoRA adapters at run time needs an admin key (the server's own "
            "OPENRFT_API_KEYS, or `openrft keys create --admin`)",
            param="lora_name",
            code="admin_key_required",
        )


@router.post("/v1/load_lora_adapter", response_class=PlainTextResponse, responses=_PLAIN_SUCCESS)
async def load_lora_adapter(state: StateDep, principal: PrincipalDep, body: LoadLoRAAdapterRequest) -> str:
    _require_admin(principal)
    await state.serving.load_adapter(body.lora_name, body.lora_path)
    return f"Success: LoRA adapter '{body.lora_name}' added successfully."


@router.post("/v1/unload_lora_adapter", response_class=PlainTextResponse, responses=_PLAIN_SUCCESS)
async def unload_lora_adapter(
    state: StateDep, principal: PrincipalDep, body: UnloadLoRAAdapterRequest
) -> str:
    _require_admin(principal)
    await state.serving.unload_adapter(body.lora_name)
    return f"Success: LoRA adapter '{body.lora_name}' removed successfully."
