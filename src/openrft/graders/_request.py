"""The body of ``POST /v1/fine_tuning/alpha/graders/run``, current and legacy forms."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class RunGraderRequest(BaseModel):
    """``{"grader", "model_sample", "item"}``; the May 2025 ``reference_answer`` is still accepted.

    A legacy ``reference_answer`` (string, number, object or array) becomes
    ``item = {"reference_answer": …}``, so ``{{item.reference_answer}}`` templates work.
    """

    model_config = ConfigDict(extra="allow")

    grader: dict[str, Any]
    model_sample: str
    """The model's answer: ``sample.output_text`` (and ``sample.output_json`` if it is JSON)."""
    item: dict[str, Any] | None = None
    reference_answer: Any = None
    """Legacy (before SDK 1.83): folded into ``item``."""

    @model_validator(mode="after")
    def _fold_reference_answer(self) -> RunGraderRequest:
        if self.reference_answer is not None:
            self.item = {**(self.item or {}), "reference_answer": self.reference_answer}
        return self
