"""Grader JSON: what real clients send is accepted, real mistakes name the field and the fix."""

import pytest

from openrft.errors import GraderValidationError
from openrft.graders import MultiGrader, StringCheckGrader, parse_grader, validate_grader

CHECK = {
    "type": "string_check",
    "input": "{{sample.output_text}}",
    "reference": "{{item.x}}",
    "operation": "eq",
}


def _error(data) -> GraderValidationError:
    with pytest.raises(GraderValidationError) as info:
        validate_grader(data, check_source=False)
    return info.value


def test_multi_graders_as_map_list_or_single_grader():
    as_map = parse_grader({"type": "multi", "graders": {"a": CHECK}, "calculate_output": "a"})
    as_list = parse_grader({"type": "multi", "graders": [{**CHECK, "name": "a"}], "calculate_output": "a"})
    single = parse_grader({"type": "multi", "graders": {**CHECK, "name": "a"}, "calculate_output": "a"})
    for grader in (as_map, as_list, single):
        assert isinstance(grader, MultiGrader)
        assert list(grader.graders) == ["a"]
        assert isinstance(grader.graders["a"], StringCheckGrader)


def test_missing_name_defaults_to_type_or_multi_key():
    assert parse_grader({k: v for k, v in CHECK.items()}).name == "string_check"
    multi = parse_grader({"type": "multi", "graders": {"email": CHECK}, "calculate_output": "email"})
    assert multi.name == "multi"
    assert multi.graders["email"].name == "email"


def test_ne_and_neq_both_accepted_and_echoed_as_sent():
    for op in ("ne", "neq"):
        assert parse_grader({**CHECK, "operation": op}).to_wire()["operation"] == op


def test_unknown_fields_are_kept_and_echoed():
    grader = parse_grader({**CHECK, "pass_threshold": 0.5, "image_tag": "2025-05-08"})
    wire = grader.to_wire()
    assert wire["pass_threshold"] == 0.5
    assert wire["image_tag"] == "2025-05-08"


def test_sampling_params_accept_both_token_limit_spellings():
    base = {"type": "score_model", "model": "m", "input": [{"role": "user", "content": "hi"}]}
    a = parse_grader({**base, "sampling_params": {"max_completions_tokens": 7}})
    b = parse_grader({**base, "sampling_params": {"max_completion_tokens": 7}})
    assert a.sampling_params.max_completions_tokens == b.sampling_params.max_completions_tokens == 7


def test_bad_operation_names_path_and_allowed_values():
    err = _error(
        {
            "type": "multi",
            "graders": {"email": {**CHECK, "operation": "contains"}},
            "calculate_output": "email",
        }
    )
    assert err.message == "graders.email.operation: 'contains' is not one of eq, ne, like, ilike"
    assert err.param == "graders.email.operation"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"type": "regex"}, "type: 'regex' is not one of string_check, text_similarity"),
        ({**CHECK, "reference": None}, "reference:"),
        ({"type": "string_check", "input": "a", "operation": "eq"}, "reference: is required"),
        ({**CHECK, "input": "{{ items.x }}"}, "input: '{{items.x}}' uses namespace 'items'"),
        ({**CHECK, "input": "{{ item.x[ }}"}, "input: '{{item.x[}}' is not a valid template variable"),
        (
            {"type": "text_similarity", "input": "a", "reference": "b", "evaluation_metric": "bleurt"},
            "evaluation_metric: 'bleurt' is not one of fuzzy_match",
        ),
        (
            {"type": "score_model", "model": "m", "input": [{"role": "robot", "content": "x"}]},
            "input[0].role: 'robot' is not one of user, assistant, system, developer",
        ),
        (
            {
                "type": "score_model",
                "model": "m",
                "input": [{"role": "user", "content": "x"}],
                "range": [1, 0],
            },
            "range: the lower bound 1.0 is above the upper bound 0.0",
        ),
        (
            {
                "type": "label_model",
                "model": "m",
                "input": [{"role": "user", "content": "x"}],
                "labels": ["a", "b"],
                "passing_labels": ["c"],
            },
            "passing_labels ['c'] are not in labels",
        ),
        (
            {"type": "multi", "graders": {"a": CHECK}, "calculate_output": "a +"},
            "calculate_output: 'a +' is not a valid arithmetic expression",
        ),
        (
            {"type": "multi", "graders": {"a": CHECK}, "calculate_output": "a + b"},
            "calculate_output: 'b' is not a sub-grader key (the keys are a)",
        ),
        (
            {"type": "multi", "graders": {"a": CHECK}, "calculate_output": "__import__('os')"},
            "calculate_output: the functions are",
        ),
        (
            {
                "type": "multi",
                "graders": {"a": {"type": "multi", "graders": {"b": CHECK}, "calculate_output": "b"}},
                "calculate_output": "a",
            },
            "graders.a: a multi grader cannot contain another multi grader",
        ),
        (
            {"type": "multi", "graders": [CHECK], "calculate_output": "a"},
            "graders[0]: a sub-grader in a list",
        ),
        ({"type": "python", "source": "x" * (300 * 1024)}, "source: source is 300 kB; the limit is 256 kB"),
        (["not", "an", "object"], "grader: a grader is a JSON object, not list"),
    ],
)
def test_real_mistakes_give_one_clear_line(data, expected):
    err = _error(data)
    assert expected in err.message
    assert "\n" not in err.message
    assert "Traceback" not in err.message
