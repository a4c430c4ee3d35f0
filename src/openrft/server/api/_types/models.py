"""Models (``GET /v1/models``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Model(BaseModel):
    id: str
    """A base model name, ``ft:<base>:<org>:<suffix>:<job>`` or ``…:ckpt-step-N``."""
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelDeleted(BaseModel):
    id: str
    object: Literal["model"] = "model"
    deleted: bool
