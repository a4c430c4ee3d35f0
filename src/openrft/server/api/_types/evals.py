"""Evals, eval runs and output items (reference §6)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from openrft.server.api._types.common import Metadata, Name
from openrft.store import OutputItemStatus, RunStatus


class CreateEvalRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Name | None = None
    metadata: Metadata | None = None
    data_source_config: dict[str, Any]
    """``{"type": "custom", "item_schema": {…}, "include_sample_schema": bool}``, ``logs`` or
    ``stored_completions``."""
    testing_criteria: list[dict[str, Any]] = Field(min_length=1)
    """Graders (label_model, string_check, text_similarity, python, score_model) with their
    ``pass_threshold``."""


class UpdateEvalRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Name | None = None
    metadata: Metadata | None = None


class Eval(BaseModel):
    id: str
    object: Literal["eval"] = "eval"
    name: str
    created_at: int
    metadata: dict[str, str] | None = None
    data_source_config: dict[str, Any]
    testing_criteria: list[dict[str, Any]]


class EvalDeleted(BaseModel):
    object: Literal["eval.deleted"] = "eval.deleted"
    deleted: bool
    eval_id: str


class CreateEvalRunRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Name | None = None
    metadata: Metadata | None = None
    data_source: dict[str, Any]
    """``jsonl`` (grade given samples), ``completions`` or ``responses`` (sample a model first)."""


class ResultCounts(BaseModel):
    total: int = 0
    errored: int = 0
    failed: int = 0
    passed: int = 0


class PerModelUsage(BaseModel):
    model_name: str
    invocation_count: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_tokens: int = 0


class PerTestingCriteriaResult(BaseModel):
    testing_criteria: str
    """The criterion's ``id`` in the eval."""
    passed: int
    failed: int


class EvalRunError(BaseModel):
    code: str
    message: str


class EvalRun(BaseModel):
    id: str
    object: Literal["eval.run"] = "eval.run"
    eval_id: str
    status: RunStatus
    """Evals spell it ``canceled`` (fine-tuning says ``cancelled``; reference §8.7)."""
    model: str
    """The sampled model; empty for a ``jsonl`` run, which samples none."""
    name: str
    created_at: int
    report_url: str
    """The run in the dashboard (an absolute URL)."""
    result_counts: ResultCounts
    per_model_usage: list[PerModelUsage]
    per_testing_criteria_results: list[PerTestingCriteriaResult]
    data_source: dict[str, Any]
    metadata: dict[str, str] | None = None
    error: EvalRunError
    """Empty ``code`` and ``message`` when the run has no error (the client types it as an object)."""


class EvalRunDeleted(BaseModel):
    object: Literal["eval.run.deleted"] = "eval.run.deleted"
    deleted: bool
    run_id: str


class OutputItemResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    type: str | None = None
    score: float
    passed: bool
    sample: dict[str, Any] | None = None
    """A model grader's own exchange with its judge (``input``, ``output``: the judge's answer)."""


class SampleUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_tokens: int


class Sample(BaseModel):
    """The SDK's output-item ``Sample``: what the model was asked and answered (a ``jsonl`` row's
    given sample has zero sampling fields)."""

    model_config = ConfigDict(extra="allow")

    input: list[dict[str, Any]]
    output: list[dict[str, Any]]
    finish_reason: str
    model: str
    usage: SampleUsage
    error: EvalRunError
    temperature: float
    max_completion_tokens: int
    top_p: float
    seed: int


class OutputItem(BaseModel):
    id: str
    object: Literal["eval.run.output_item"] = "eval.run.output_item"
    run_id: str
    eval_id: str
    created_at: int
    status: OutputItemStatus
    """``pass`` when the row passed every criterion without a grading error, else ``fail``."""
    datasource_item_id: int
    datasource_item: dict[str, Any]
    results: list[OutputItemResult]
    sample: Sample
