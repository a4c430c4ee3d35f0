"""What each grader type says about itself: score range, pass rule, result type, sub-graders, labels.

Evals and training ask the grader (no switch on its type outside ``openrft.graders``), so these
answers are the whole contract a new grader type has to fill in.
"""

from __future__ import annotations

import pytest

from openrft.graders import GRADER_TYPES, GraderModel, parse_grader

JUDGE = [{"role": "user", "content": "{{sample.output_text}}"}]
CHECK = {
    "type": "string_check",
    "input": "{{sample.output_text}}",
    "reference": "{{item.a}}",
    "operation": "eq",
}
SIMILAR = {
    "type": "text_similarity",
    "input": "{{sample.output_text}}",
    "reference": "{{item.b}}",
    "evaluation_metric": "bleu",
}
SCORE = {"type": "score_model", "model": "judge", "input": JUDGE, "range": [1, 7]}
LABEL = {
    "type": "label_model",
    "model": "judge",
    "input": JUDGE,
    "labels": ["yes", "no"],
    "passing_labels": ["yes"],
}
PYTHON = {"type": "python", "source": "def grade(sample, item):\n    return 3.0\n"}
MULTI = {"type": "multi", "graders": {"check": CHECK, "label": LABEL}, "calculate_output": "check + label"}


@pytest.mark.parametrize(
    ("grader", "score_range", "threshold", "result_type"),
    [
        (CHECK, (0.0, 1.0), 1.0, "string-check-grader"),  # passes on 1
        (SIMILAR, (0.0, 1.0), 0.5, "text-similarity-grader"),  # the middle of its range
        (SCORE, (1.0, 7.0), 4.0, "score-model-grader"),
        ({**SCORE, "range": None}, (0.0, 1.0), 0.5, "score-model-grader"),
        (LABEL, (0.0, 1.0), 1.0, "label-model-grader"),  # reward 1 exactly when the label passes
        (PYTHON, None, 0.5, "python-grader"),  # whatever grade() returns
        (MULTI, None, 0.5, "multi-grader"),  # whatever the formula gives
    ],
)
def test_each_type_owns_its_range_pass_rule_and_result_type(grader, score_range, threshold, result_type):
    parsed = parse_grader(grader)
    assert parsed.score_range() == score_range
    assert parsed.threshold() == threshold
    assert parsed.result_type == result_type
    assert parse_grader({**grader, "pass_threshold": 0.25}).threshold() == 0.25  # the JSON's own wins


def test_every_registered_type_answers_for_itself():
    assert set(GRADER_TYPES) == {
        "string_check",
        "text_similarity",
        "score_model",
        "label_model",
        "python",
        "multi",
    }
    for name, kind in GRADER_TYPES.items():
        assert issubclass(kind, GraderModel)
        assert kind.result_type.endswith("-grader") and kind.result_type.startswith(name.split("_")[0])


def test_sub_graders_labels_and_reference_come_from_the_parts():
    multi = parse_grader(MULTI)
    assert list(multi.sub_graders()) == ["check", "label"]
    assert multi.answer_labels() == {"yes", "no"}
    assert multi.reference_template() == "{{item.a}}"
    assert (
        multi.describe()
        == "multi grader 'multi': check (string_check), label (label_model); output = check + label"
    )
    check = parse_grader(CHECK)
    assert check.sub_graders() == {} and check.answer_labels() == set()
    assert parse_grader(SIMILAR).reference_template() == "{{item.b}}"
    assert parse_grader(PYTHON).reference_template() is None
    assert parse_grader(LABEL).describe() == "label_model grader 'label_model'"
