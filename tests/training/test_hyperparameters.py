"""The documented ``"auto"`` rules, ``--set`` parsing, and the reward-hacking alarms."""

from __future__ import annotations

import pytest

from openrft.errors import InvalidRequestError
from openrft.training import Hyperparameters, parse_hyperparameters, parse_overrides, resolve
from openrft.training._alarms import check_alarms
from openrft.training._hyper import completion_length, reference_texts


def test_auto_hyperparameters_follow_the_documented_rules():
    hp = resolve(Hyperparameters(), 300, "smollm2-135m-instruct")  # on the CPU
    assert (hp.n_epochs, hp.batch_size, hp.num_generations, hp.eval_samples) == (1, 4, 4, 2)
    assert (hp.steps_per_epoch, hp.total_steps, hp.eval_interval, hp.max_completion_length) == (
        75,
        75,
        15,
        128,
    )
    assert hp.learning_rate == pytest.approx(6e-4) and hp.temperature == 0.7
    gpu = resolve(Hyperparameters(), 300, "smollm2-135m-instruct", gpu=True)
    assert (gpu.batch_size, gpu.num_generations, gpu.steps_per_epoch, gpu.temperature) == (8, 8, 37, 1.0)
    small = resolve(Hyperparameters(lora=False, learning_rate_multiplier=2, reasoning_effort="low"), 40)
    assert (small.n_epochs, small.batch_size, small.max_completion_length) == (3, 2, 64)
    assert small.learning_rate == pytest.approx(2e-5)
    capped = resolve(Hyperparameters(compute_multiplier=0.1, max_steps=4, eval_interval=10), 100)
    assert (capped.num_generations, capped.total_steps, capped.eval_interval, capped.n_epochs) == (2, 4, 4, 2)
    assert (
        resolve(Hyperparameters(reasoning_effort="high", max_completion_length=20), 8).max_completion_length
        == 20
    )
    assert resolve(Hyperparameters(temperature=1.2), 8).temperature == 1.2


def test_long_completions_go_through_the_model_in_micro_batches():
    # At most 1,280 completion tokens a pass on the CPU, 8,192 on a GPU; the largest divisor.
    def micro(length: int, gpu: bool = False) -> int | None:
        return resolve(Hyperparameters(max_completion_length=length), 300, gpu=gpu).micro_batch_size

    assert micro(64) == 16 and micro(80) == 16  # the demo's 4 × 4, triage-vitals': one pass
    assert (micro(128), micro(512), micro(300), micro(2048), micro(4096)) == (8, 2, 4, 1, 1)
    assert micro(512, gpu=True) == 16 and micro(64, gpu=True) == 64  # 8 prompts × 8
    assert resolve(Hyperparameters(micro_batch_size=2), 300).micro_batch_size == 2
    with pytest.raises(InvalidRequestError) as caught:
        resolve(Hyperparameters(micro_batch_size=3), 300)
    assert caught.value.param == "hyperparameters.micro_batch_size"
    assert "must divide the step's completions" in caught.value.message


def test_the_completion_length_comes_from_the_references():
    # 1.5 × the 95th-percentile reference length + 16, rounded up to 16, within [32, 512]
    assert completion_length([41] * 20) == 80  # a five-field JSON answer
    assert completion_length([1, 1, 2]) == 32  # a number
    assert completion_length([10] * 19 + [1000]) == 32  # one outlier is above the 95th percentile
    assert completion_length([400] * 5) == 512
    assert completion_length([]) is None
    hp = Hyperparameters()
    assert resolve(hp, 100, reference_tokens=[41] * 100).max_completion_length == 80
    assert (
        resolve(
            hp.model_copy(update={"reasoning_effort": "medium"}), 100, reference_tokens=[41]
        ).max_completion_length
        == 128
    )
    assert resolve(hp, 100).max_completion_length == 128  # no references


def test_reference_texts_read_reference_answer_or_the_graders_reference_fields():
    check = {"type": "string_check", "input": "{{sample.output_text}}", "reference": "{{ item.answer }}"}
    items = [{"reference_answer": {"age": 90, "hr": 98}}, {"answer": "Paris"}, {"other": 1}]
    assert reference_texts(items, check) == ['{"age":90,"hr":98}', "Paris"]
    multi = {"type": "multi", "graders": {"a": check}, "calculate_output": "a"}
    assert reference_texts([{"answer": 3}], multi) == ["3"]


def test_set_values_parse_as_json_and_bad_ones_name_the_field():
    assert parse_overrides(["lora=false", "beta=0.04", "loss_type=grpo"]) == {
        "lora": False,
        "beta": 0.04,
        "loss_type": "grpo",
    }
    with pytest.raises(InvalidRequestError, match="expected key=value"):
        parse_overrides(["lora"])
    with pytest.raises(InvalidRequestError, match=r"hyperparameters.n_epochs: 0 is not valid") as caught:
        parse_hyperparameters({"n_epochs": 0})
    assert caught.value.param == "hyperparameters.n_epochs"
    assert parse_hyperparameters({"n_epochs": "auto", "seed": 3}).seed == 3


def _step(step: int, train: float, tokens: float, valid: float | None = None) -> dict:
    return {
        "step": step,
        "train_mean_reward": train,
        "completion_tokens_mean": tokens,
        "full_valid_mean_reward": valid,
    }


def test_alarms_fire_on_rising_length_and_on_train_up_valid_down():
    steady = [_step(1, 0.2, 10), _step(2, 0.3, 10, 0.30), _step(3, 0.35, 10), _step(4, 0.4, 10, 0.40)]
    assert check_alarms(steady) == []
    longer = [*steady[:2], _step(3, 0.3, 14), _step(4, 0.3, 16, 0.30)]
    assert [a["alarm"] for a in check_alarms(longer)] == ["length_rising"]
    diverging = [*steady[:2], _step(3, 0.5, 10), _step(4, 0.6, 10, 0.20)]
    assert [a["alarm"] for a in check_alarms(diverging)] == ["train_up_valid_down"]
    assert check_alarms(diverging[:3]) == []  # only checked when a validation just happened
    assert check_alarms(diverging, scale=10.0) == []  # thresholds scale with the score range
