"""``/v1/openrft/me``: the project the request's key belongs to (what the dashboard shows)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from openrft.server.api._state import PrincipalDep
from openrft.server.api._types.common import ERROR_RESPONSES

router = APIRouter(tags=["projects"], responses=ERROR_RESPONSES)


class KeyIdentity(BaseModel):
    object: Literal["openrft.key"] = "openrft.key"
    project: str
    """The project whose resources this key sees, changes and creates."""
    admin: bool
    """An admin key also sees every other project's resources."""
    key_id: str | None
    """The id of a project key (``key_…``); null for the server's own keys and ``--no-auth``."""


@router.get("/v1/openrft/me", response_model=KeyIdentity)
def whoami(principal: PrincipalDep) -> KeyIdentity:
    return KeyIdentity(project=principal.project, admin=principal.admin, key_id=principal.key_id)
