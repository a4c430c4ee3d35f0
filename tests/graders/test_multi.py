import math

import pytest

from openrft.graders import run_grader
from openrft.graders._formula import FormulaError, evaluate_formula, parse_formula


def _check(name, ref):
    return {
        "type": "string_check",
        "name": name,
        "input": "{{sample.output_text}}",
        "reference": ref,
        "operation": "like",
    }


@pytest.mark.parametrize(
    ("formula", "a", "b", "expected"),
    [
        ("(a + b) / 2", 1, 0, 0.5),
        ("0.85 * a + 0.15 * b", 1, 1, 1.0),
        ("a ^ 2 + b", 3, 1, 10.0),
        ("-a ^ 2", 3, 0, -9.0),
        ("2 ^ 3 ^ 2", 0, 0, 512.0),
        ("min(a, b, 0.5) + max(a, b)", 2, 4, 4.5),
        ("abs(a - b) + floor(2.7) + ceil(0.2)", 1, 4, 6.0),
        ("sqrt(a) + log(exp(b))", 9, 2, 5.0),
    ],
)
def test_formula(formula, a, b, expected):
    assert math.isclose(evaluate_formula(parse_formula(formula, {"a", "b"}), {"a": a, "b": b}), expected)


@pytest.mark.parametrize(
    "formula",
    [
        "a +",
        "a ** 2",
        "c",
        "__import__('os').system('x')",
        "a.real",
        "[a, b]",
        "a if b else 1",
        "lambda: 1",
        "'text'",
        "True",
        "min(a)",
        "log(a, 2)",
        "a < b",
        "f(a)",
        "log",
    ],
)
def test_formula_rejects(formula):
    with pytest.raises(FormulaError):
        parse_formula(formula, {"a", "b"})


def test_multi_combines_sub_rewards():
    grader = {
        "type": "multi",
        "name": "m",
        "graders": {"city": _check("city", "Paris"), "country": _check("country", "France")},
        "calculate_output": "0.75 * city + 0.25 * country",
    }
    result = run_grader(grader, "Paris, France")
    assert result.reward == 1.0
    result = run_grader(grader, "Paris")
    assert result.reward == 0.75
    assert result.sub_rewards == {"city": 1.0, "country": 0.0}
    assert result.metadata.scores == {"city": 1.0, "country": 0.0}
    assert result.metadata.type == "multi"


def test_multi_sub_grader_error_counts_zero_and_is_reported():
    grader = {
        "type": "multi",
        "graders": {
            "ok": _check("ok", "x"),
            "bad": {"type": "string_check", "input": "{{item.nope}}", "reference": "x", "operation": "eq"},
        },
        "calculate_output": "ok + bad",
    }
    result = run_grader(grader, "x")
    assert result.reward == 1.0
    assert result.metadata.errors.invalid_variable_error


def test_math_error_in_formula_is_flagged():
    grader = {"type": "multi", "graders": {"a": _check("a", "zzz")}, "calculate_output": "1 / a"}
    result = run_grader(grader, "x")
    assert result.reward == 0.0
    assert result.metadata.errors.other_error
