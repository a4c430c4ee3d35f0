"""``/v1/fine_tuning/alpha/graders/validate`` and the playground's saved graders (openrft)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ValidateGraderRequest(BaseModel):
    grader: dict[str, Any]
    """Any grader JSON (string_check, text_similarity, score_model, label_model, python, multi)."""


class ValidateGraderResponse(BaseModel):
    grader: dict[str, Any]
    """The grader as it will run: what was sent, with defaults filled in."""


class SavedGraderCreate(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    grader: dict[str, Any]


class SavedGrader(BaseModel):
    """A grader saved from the dashboard's playground."""

    id: str
    object: Literal["openrft.grader"] = "openrft.grader"
    name: str
    grader: dict[str, Any]
    created_at: int
    updated_at: int


class SavedGraderDeleted(BaseModel):
    id: str
    object: Literal["openrft.grader.deleted"] = "openrft.grader.deleted"
    deleted: bool
