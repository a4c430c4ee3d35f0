"""Is a difference real? Paired intervals and tests, per criterion, per sub-grader and overall."""

from __future__ import annotations

import random
from typing import Any

import pytest

from openrft.evals import Criterion, EvalRecord, compare, paired_difference, summarize

FIELDS = ("age", "rate")
MULTI = {
    "type": "multi",
    "name": "fields",
    "graders": {
        name: {
            "type": "string_check",
            "name": name,
            "input": f"{{{{sample.output_json.{name}}}}}",
            "reference": f"{{{{item.{name}}}}}",
            "operation": "eq",
        }
        for name in FIELDS
    },
    "calculate_output": "(age + rate) / 2",
}


def _record(model: str, item: int, run: int, fields: dict[str, float]) -> EvalRecord:
    score = sum(fields.values()) / len(fields)
    return EvalRecord(
        model=model,
        item_index=item,
        run=run,
        line=item + 1,
        prompt=[{"role": "user", "content": f"note {item}"}],
        output="{}",
        finish_reason="stop",
        prompt_tokens=1,
        completion_tokens=1,
        reasoning_tokens=0,
        scores={"fields": score},
        passed={"fields": score >= 0.5},
        errors={"fields": []},
        sub_rewards={"fields": dict(fields)},
    )


def _flip(value: float) -> float:
    return 1.0 - value


def _noise_pair(seed: int, items: int = 48, flip: float = 0.2) -> tuple[list[float], list[float]]:
    """The same right/wrong answers, each flipped either way with the same probability."""
    rng = random.Random(seed)
    base = [float(rng.random() < 0.5) for _ in range(items)]
    other = [_flip(v) if rng.random() < flip else v for v in base]
    return base, other


def _improved_pair(seed: int, items: int = 48) -> tuple[list[float], list[float]]:
    """Half of the wrong answers put right, nothing broken: the demo's kind of gain."""
    rng = random.Random(seed)
    base = [float(rng.random() < 0.5) for _ in range(items)]
    return base, [1.0 if v == 0.0 and rng.random() < 0.6 else v for v in base]


def test_noise_only_gets_intervals_that_include_zero_and_a_clear_gain_ones_that_exclude_it():
    noise = [paired_difference(*_noise_pair(seed)) for seed in range(100)]
    covered = sum(s["includes_zero"] for s in noise)
    assert covered >= 90, covered  # a 95% interval: about 95 of 100 noise-only pairs contain 0
    assert all(s["includes_zero"] == (s["ci_low"] <= 0 <= s["ci_high"]) for s in noise)
    assert all("may be noise" in s["verdict"] for s in noise if s["includes_zero"])
    assert sum(s["significant"] for s in noise) <= 10

    gains = [paired_difference(*_improved_pair(seed)) for seed in range(100)]
    assert all(not s["includes_zero"] and s["ci_low"] > 0 and s["significant"] for s in gains)
    assert all(s["wilcoxon_p"] < 0.05 and s["sign_test_p"] < 0.05 for s in gains)
    assert all("excludes 0" in s["verdict"] and "gain" in s["verdict"] for s in gains)
    worse = paired_difference(*reversed(_improved_pair(0)))
    assert worse["ci_high"] < 0 and "loss" in worse["verdict"]


def test_the_interval_is_seeded_and_brackets_the_mean_delta():
    base, other = _noise_pair(3)
    first, again = paired_difference(base, other), paired_difference(base, other)
    assert first == again
    delta = sum(o - b for b, o in zip(base, other, strict=True)) / len(base)
    assert first["mean_delta"] == pytest.approx(delta)
    assert first["ci_low"] <= delta <= first["ci_high"]
    assert first["confidence"] == 0.95 and first["items"] == 48


def test_degenerate_cases_say_what_they_can():
    same = paired_difference([1.0, 0.0, 1.0], [1.0, 0.0, 1.0])
    assert (same["ci_low"], same["ci_high"], same["wilcoxon_p"]) == (0.0, 0.0, 1.0)
    assert same["includes_zero"] and "no item" in same["verdict"]
    constant = paired_difference([0.0] * 48, [0.5] * 48)
    assert constant["ci_low"] == constant["ci_high"] == 0.5 and constant["significant"]
    few = paired_difference([0.0] * 4, [0.5] * 4)  # every item moved the same way, but only four
    assert not few["includes_zero"] and not few["significant"] and "too few items" in few["verdict"]
    single = paired_difference([0.0], [1.0])
    assert single["ci_low"] is None and single["includes_zero"] is None and "too few" in single["verdict"]
    assert paired_difference([], []) is None


def _model(name: str, per_item: list[dict[str, float]], runs: int = 1) -> list[EvalRecord]:
    return [_record(name, i, r, fields) for i, fields in enumerate(per_item) for r in range(runs)]


def test_a_comparison_tests_each_criterion_and_each_sub_grader():
    rng = random.Random(1)
    base_items = [{"age": 1.0, "rate": float(rng.random() < 0.3)} for _ in range(40)]
    # The rate field improves on most items; the age field is right everywhere, in both models.
    tuned_items = [{"age": 1.0, "rate": 1.0 if f["rate"] or rng.random() < 0.8 else 0.0} for f in base_items]
    criteria = [Criterion("fields", MULTI)]
    summary = summarize(_model("base", base_items) + _model("tuned", tuned_items), criteria)
    [comparison] = summary["comparisons"]
    overall = comparison["significance"]
    assert overall["ci_low"] > 0 and not overall["includes_zero"]
    assert overall["mean_delta"] == pytest.approx(comparison["mean_delta"])
    fields = comparison["criteria"]["fields"]
    assert fields["mean_delta"] == pytest.approx(comparison["mean_delta"])
    assert fields["sub_graders"]["rate"]["ci_low"] > 0
    age = fields["sub_graders"]["age"]
    assert age["mean_delta"] == 0 and age["includes_zero"]
    # every sub-grader passed: the base model got both fields right where rate was right
    all_right = fields["all_sub_graders_passed"]
    assert all_right["base_mean"] == pytest.approx(sum(f["rate"] for f in base_items) / 40)
    assert all_right["other_mean"] == pytest.approx(sum(f["rate"] for f in tuned_items) / 40)
    assert summary["models"]["tuned"]["criteria"]["fields"]["all_sub_graders_pass_rate"] == pytest.approx(
        all_right["other_mean"]
    )


def test_noise_between_two_runs_of_one_model_is_called_noise():
    # Same answers, five flipped up and five down: the mean delta is 0 by construction.
    base_items: list[dict[str, Any]] = [{"age": 1.0, "rate": float(i % 2)} for i in range(30)]
    other_items = [dict(f) for f in base_items]
    for i in range(10):
        other_items[i]["rate"] = _flip(other_items[i]["rate"])
    c = compare(_model("a", base_items, runs=2), _model("b", other_items, runs=2), tolerance=0.01)
    assert c["mean_delta"] == pytest.approx(0.0)
    assert c["significance"]["includes_zero"] and "may be noise" in c["significance"]["verdict"]
    assert c["significance"]["sign_test_p"] == pytest.approx(1.0)
