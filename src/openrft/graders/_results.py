"""Grader results in OpenAI's ``RunGraderResponse`` shape, and the per-type outcome.

Every grader type returns a :class:`Grade`; the runner turns it into a
:class:`RunGraderResponse`, the exact JSON that ``POST /v1/fine_tuning/alpha/graders/run``
returns (reference §3.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from openrft.graders._schema import Grader

ERROR_FLAGS: tuple[str, ...] = (
    "formula_parse_error",
    "sample_parse_error",
    "truncated_observation_error",
    "unresponsive_reward_error",
    "invalid_variable_error",
    "other_error",
    "python_grader_server_error",
    "python_grader_runtime_error",
    "model_grader_server_error",
    "model_grader_refusal_error",
    "model_grader_parse_error",
)
"""The boolean error flags; with the three detail fields below they make OpenAI's fourteen."""

ERROR_DETAILS: tuple[str, ...] = (
    "python_grader_server_error_type",
    "python_grader_runtime_error_details",
    "model_grader_server_error_details",
)


class GraderErrors(BaseModel):
    """``metadata.errors``: one flag per failure kind, all fourteen keys always present."""

    model_config = ConfigDict(extra="forbid")

    formula_parse_error: bool = False
    sample_parse_error: bool = False
    truncated_observation_error: bool = False
    unresponsive_reward_error: bool = False
    invalid_variable_error: bool = False
    other_error: bool = False
    python_grader_server_error: bool = False
    python_grader_server_error_type: str | None = None
    python_grader_runtime_error: bool = False
    python_grader_runtime_error_details: str | None = None
    model_grader_server_error: bool = False
    model_grader_refusal_error: bool = False
    model_grader_parse_error: bool = False
    model_grader_server_error_details: str | None = None

    def raised(self) -> list[str]:
        """Names of the flags that are set, in OpenAI's order."""
        return [name for name in ERROR_FLAGS if getattr(self, name)]

    def merge(self, other: GraderErrors) -> None:
        """Set every flag that ``other`` has set (a multi grader reports its sub-graders' errors)."""
        for name in ERROR_FLAGS:
            if getattr(other, name):
                setattr(self, name, True)
        for name in ERROR_DETAILS:
            if getattr(self, name) is None and getattr(other, name) is not None:
                setattr(self, name, getattr(other, name))


class TokenUsage(BaseModel):
    """Token counts of a model grader's calls (OpenAI emits this object, not the spec's int)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0

    def add(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
        )


class GraderMetadata(BaseModel):
    name: str
    type: str
    errors: GraderErrors
    execution_time: float
    """Seconds spent grading this sample."""
    scores: dict[str, Any] = {}
    """Per-sub-grader rewards of a multi grader, keyed by sub-grader key; empty otherwise."""
    token_usage: TokenUsage | None = None
    sampled_model_name: str | None = None
    """The judge model that actually ran (model graders only)."""


class RunGraderResponse(BaseModel):
    """What ``graders/run`` returns, and what every grading call in openrft produces."""

    reward: float
    metadata: GraderMetadata
    sub_rewards: dict[str, Any] = {}
    model_grader_token_usage_per_model: dict[str, TokenUsage] = {}
    details: dict[str, Any] = Field(default_factory=dict, exclude=True)
    """Type-specific extras (a judge's transcript, a traceback); never part of the wire JSON."""

    @property
    def errors(self) -> GraderErrors:
        return self.metadata.errors


@dataclass
class Grade:
    """What one grader type returns for one sample, before the runner adds timing and names.

    Expected failures are recorded here, never raised: set the flag on ``errors`` and
    leave ``reward`` at 0.
    """

    reward: float = 0.0
    errors: GraderErrors = field(default_factory=GraderErrors)
    token_usage: TokenUsage | None = None
    sampled_model_name: str | None = None
    usage_per_model: dict[str, TokenUsage] = field(default_factory=dict)
    label: str | None = None
    """The label a label_model grader assigned."""
    details: dict[str, Any] = field(default_factory=dict)
    """Extra, type-specific information (a judge's steps, a python grader's stdout)."""

    @classmethod
    def failed(cls, flag: str, detail_field: str | None = None, detail: str | None = None) -> Grade:
        """A zero reward with one error flag (and optionally its detail string) set."""
        errors = GraderErrors.model_validate({flag: True})
        if detail_field is not None:
            setattr(errors, detail_field, detail)
        return cls(reward=0.0, errors=errors)


def sub_rewards(grade: Grade) -> dict[str, Any]:
    """The per-key rewards of a multi grade (empty for any other grade)."""
    subs: dict[str, Grade] = grade.details.get("sub_grades", {})
    return {key: sub.reward for key, sub in subs.items()}


def to_response(grader: Grader, grade: Grade, execution_time: float) -> RunGraderResponse:
    """Wrap a :class:`Grade` in OpenAI's ``RunGraderResponse`` shape."""
    subs = sub_rewards(grade)
    # model_construct: every part is already a validated object, and this runs once per sample.
    metadata = GraderMetadata.model_construct(
        name=grader.name,
        type=grader.type,
        errors=grade.errors,
        execution_time=execution_time,
        scores=subs,
        token_usage=grade.token_usage,
        sampled_model_name=grade.sampled_model_name,
    )
    return RunGraderResponse.model_construct(
        reward=float(grade.reward),
        metadata=metadata,
        sub_rewards=subs,
        model_grader_token_usage_per_model=grade.usage_per_model,
        details=grade.details,
    )
