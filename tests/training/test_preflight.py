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


def test_an_exploit_is_compared_with_what_honest_answers_earn():
    from openrft.training._preflight import check_exploits

    # every label at once earning half of a correct answer is a partial-credit grader, not an exploit
    assert check_exploits({"every label at once": 0.5}, honest=1.0) == ([], [])
    flagged, _ = check_exploits({"prompt echoed back": 0.95}, honest=1.0, allow=True)
    assert flagged == ["prompt echoed back"]
    # honest answers earning 0.6: an exploit earning as much is one the policy would learn
    assert check_exploits({"empty answer": 0.55}, honest=0.6, allow=True)[0] == ["empty answer"]
    # without honest answers: against the top of the range, not half of it
    assert check_exploits({"empty answer": 0.6})[0] == []
    assert check_exploits({"empty answer": 0.0}, honest=0.0)[0] == []


def test_honest_answers_come_from_reference_answers_or_the_graders_reference():
    from openrft.data import RFTRow
    from openrft.graders import parse_grader
    from openrft.training._preflight import honest_answers

    rows = [RFTRow(1, [{"role": "user", "content": "q"}], {"answer": "paris"})]
    check = parse_grader(
        {
            "type": "string_check",
            "name": "s",
            "input": "{{sample.output_text}}",
            "reference": "{{item.answer}}",
            "operation": "eq",
        }
    )
    assert [a for a, _ in honest_answers(check, rows)] == ["paris"]
    labelled = [RFTRow(1, [{"role": "user", "content": "q"}], {"reference_answer": {"city": "paris"}})]
    assert [a for a, _ in honest_answers(check, labelled)] == ['{"city": "paris"}']
