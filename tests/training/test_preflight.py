"""The preflight's exploit probes on their own (no model): every label at once, objects included."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from openrft.errors import InvalidRequestError
from openrft.training import run_preflight


@dataclass
class Row:
    messages: list[dict[str, Any]]
    item: dict[str, Any] = field(default_factory=dict)


def _rows(references: list[Any]) -> list[Row]:
    return [
        Row([{"role": "user", "content": f"note {i}"}], {"reference_answer": r})
        for i, r in enumerate(references)
    ]


FIELDS = ("age", "rate")
CONTAINS_EACH_FIELD = {  # a grader that pays when each field's value appears anywhere in the field
    "type": "multi",
    "name": "fields",
    "graders": {
        name: {
            "type": "string_check",
            "name": name,
            "input": f"{{{{sample.output_json.{name}}}}}",
            "reference": f"{{{{item.reference_answer.{name}}}}}",
            "operation": "like",
        }
        for name in FIELDS
    },
    "calculate_output": "(age + rate) / 2",
}
EXACT_EACH_FIELD = {
    **CONTAINS_EACH_FIELD,
    "graders": {k: {**g, "operation": "eq"} for k, g in CONTAINS_EACH_FIELD["graders"].items()},
}
OBJECTS = [{"age": 30 + i % 4, "rate": 60 + i % 5} for i in range(12)]


def test_object_references_are_probed_with_every_value_of_each_field():
    report = run_preflight(EXACT_EACH_FIELD, _rows(OBJECTS))
    assert "every label at once" in report["exploits"]
    assert report["exploits"]["every label at once"] == 0.0  # an exact grader does not pay for it
    assert report["skipped"] == {}
    with pytest.raises(InvalidRequestError, match=r"every label at once scores 1\.00"):
        run_preflight(CONTAINS_EACH_FIELD, _rows(OBJECTS))


def test_references_that_cannot_be_probed_are_named_with_the_reason():
    report = run_preflight(EXACT_EACH_FIELD, _rows([[1, 2], [3], [4, 5]]))
    assert "every label at once" not in report["exploits"]
    assert "lists" in report["skipped"]["every label at once"]
    assert any("every label at once" in w and "not probed" in w for w in report["warnings"])
    too_many = run_preflight(EXACT_EACH_FIELD, _rows([{"age": i, "rate": 1000 + i} for i in range(300)]))
    assert "200" in too_many["skipped"]["every label at once"]
    # nothing to probe (no reference answers): no exploit, and no warning either
    plain = run_preflight(EXACT_EACH_FIELD, [Row([{"role": "user", "content": "hi"}], {"n": 1})])
    assert plain["skipped"] == {} and not plain["warnings"]
