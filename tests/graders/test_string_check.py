import pytest

from openrft.graders import run_grader


def _grader(op):
    return {
        "type": "string_check",
        "name": "s",
        "input": "{{sample.output_text}}",
        "reference": "{{item.ref}}",
        "operation": op,
    }


@pytest.mark.parametrize(
    ("op", "output", "ref", "reward"),
    [
        ("eq", "Paris", "Paris", 1.0),
        ("eq", "paris", "Paris", 0.0),
        ("ne", "paris", "Paris", 1.0),
        ("neq", "Paris", "Paris", 0.0),
        ("like", "The capital is Paris.", "Paris", 1.0),
        ("like", "The capital is paris.", "Paris", 0.0),
        ("ilike", "THE CAPITAL IS PARIS.", "paris", 1.0),
        ("ilike", "Lyon", "paris", 0.0),
        ("like", "100% sure", "%", 1.0),  # no SQL wildcards: % is a literal character
        ("like", "abc", "a%c", 0.0),
    ],
)
def test_operations(op, output, ref, reward):
    result = run_grader(_grader(op), output, {"ref": ref})
    assert result.reward == reward
    assert result.metadata.errors.raised() == []
    assert result.metadata.type == "string_check"
    assert result.metadata.name == "s"


def test_missing_item_field_is_flagged_not_raised():
    result = run_grader(_grader("eq"), "x", {})
    assert result.reward == 0.0
    assert result.metadata.errors.invalid_variable_error


def test_response_has_openai_shape():
    body = run_grader(_grader("eq"), "x", {"ref": "x"}).model_dump(mode="json")
    assert set(body) == {"reward", "metadata", "sub_rewards", "model_grader_token_usage_per_model"}
    assert len(body["metadata"]["errors"]) == 14
    assert set(body["metadata"]) == {
        "name",
        "type",
        "errors",
        "execution_time",
        "scores",
        "token_usage",
        "sampled_model_name",
    }
