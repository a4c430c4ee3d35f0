"""GRPO jobs on a tiny model built in code: it learns, survives grader errors, decodes under a
schema, refuses exploitable graders, and its best checkpoint loads anywhere."""

from __future__ import annotations

import json
import statistics
import time

import pytest

from openrft.errors import InvalidRequestError
from openrft.training import GraderFailure, run_training
from tests.training.helpers import A_SHARE, flaky, make_config, metrics, write_rows


@pytest.mark.slow
def test_a_tiny_model_learns_the_reward(tmp_path, tiny_model_dir):
    config = make_config(tmp_path, tiny_model_dir, A_SHARE, max_steps=40, eval_interval=20)
    started = time.monotonic()
    result = run_training(config)
    elapsed = time.monotonic() - started
    rows = metrics(config.out_dir)
    rewards = [m["train_mean_reward"] for m in rows]
    first, last = statistics.fmean(rewards[:5]), statistics.fmean(rewards[-5:])
    # The bound only catches a hang; benchmarks/train.py measures step times.
    assert len(rewards) == 40 and elapsed < 600
    assert last - first > 0.5, rewards  # from ~0.05 (random text) to most characters being "a"
    assert result.status == "succeeded" and result.best_step in (20, 40)
    assert rows[19]["full_valid_mean_reward"] is not None and rows[0]["full_valid_mean_reward"] is None
    assert rows[39]["full_valid_mean_reward"] > rows[19]["full_valid_mean_reward"] + 0.3  # held-out prompts
    assert all(0.0 <= m["zero_variance_group_fraction"] <= 1.0 for m in rows)
    assert rows[0]["samples"] == 32 and rows[0]["completion_tokens_mean"] > 0
    assert set(rows[0]["timing"]["step"]) == {"sampling", "grading", "training", "eval", "full_iteration"}
    assert {"loss", "learning_rate"} <= set(rows[0]["trl"])
    events = [json.loads(line) for line in (config.out_dir / "events.jsonl").read_text().splitlines()]
    assert sum(e["type"] == "metrics" for e in events) == 40
    assert any(e["message"].startswith("Preflight on 16 training prompts") for e in events)
    assert result.preflight is not None and 0 < result.preflight["base"]["learnable_fraction"] <= 1

    # The best checkpoint is plain full weights: transformers loads it, and so does openrft.
    from transformers import AutoModelForCausalLM

    from openrft.models import LocalChatModel

    assert AutoModelForCausalLM.from_pretrained(result.best_checkpoint).num_parameters() > 0
    tuned = LocalChatModel(result.best_checkpoint, device="cpu")
    [[answer]] = tuned.generate(
        [[{"role": "user", "content": "the dog ran 99"}]], temperature=0.0, max_tokens=8
    )
    letters = answer.text.replace(" ", "")
    assert letters.count("a") / max(1, len(letters)) > 0.5  # a held-out greedy answer shows what was learned


@pytest.mark.slow
def test_grader_errors_on_ten_percent_of_samples_do_not_stop_training(tmp_path, tiny_model_dir):
    config = make_config(tmp_path, tiny_model_dir, flaky(0.1), max_steps=4, eval_interval=4)
    result = run_training(config)
    assert result.status == "succeeded"
    rows = metrics(config.out_dir)
    rates = [m["grader_error_rate"] for m in rows]
    assert len(rows) == 4 and 0 < statistics.fmean(rates) < 0.3
    errors = rows[0]["errors"]["graders"][0]
    assert errors["train_python_grader_runtime_error_count"] == rows[0]["grader_errored_samples"] > 0
    assert errors["valid_python_grader_runtime_error_count"] is None  # no validation at step 1
    groups = json.loads((config.out_dir / "rollouts.jsonl").read_text().splitlines()[0])["groups"]
    errored = [c for g in groups for c in g["completions"] if c["errors"]]
    assert errored and all(c["reward"] == 0.0 for c in errored)


def test_grader_errors_on_ninety_percent_fail_the_job_with_tracebacks(tmp_path, tiny_model_dir):
    config = make_config(tmp_path, tiny_model_dir, flaky(0.9), max_steps=4, eval_interval=4)
    config.preflight = False  # each error recycles a sandbox worker: keep the test to one step's grading
    with pytest.raises(GraderFailure, match=r"grader errors on \d+% of the last 1 step") as caught:
        run_training(config)
    assert "RuntimeError: grader bug" in caught.value.message
    assert "max_grader_error_rate" in caught.value.message
    events = [json.loads(line) for line in (config.out_dir / "events.jsonl").read_text().splitlines()]
    assert events[-1]["level"] == "error" and "grader bug" in events[-1]["message"]
    assert not (config.out_dir / "metrics.jsonl").exists()  # failed before the first update


def test_rollouts_decode_under_the_response_format_and_the_adapter_loads_with_peft(tmp_path, tiny_model_dir):
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": ["cat", "dog"]}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    grader = {
        "type": "string_check",
        "name": "json_answer",
        "input": "{{sample.output_json.answer}}",
        "reference": "cat",
        "operation": "eq",
    }
    config = make_config(
        tmp_path, tiny_model_dir, grader, lora=True, lora_rank=4, batch_size=2, max_completion_length=24
    )
    config.hyperparameters = config.hyperparameters.model_copy(update={"max_steps": 2, "eval_interval": 2})
    config.response_format = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    result = run_training(config)
    texts = [
        c["text"]
        for line in (config.out_dir / "rollouts.jsonl").read_text().splitlines()
        for g in json.loads(line)["groups"]
        for c in g["completions"]
    ]
    assert len(texts) == 32
    assert all(json.loads(t)["answer"] in {"cat", "dog"} for t in texts), texts
    assert all(
        m["errors"]["graders"][0]["train_sample_parse_error_count"] == 0 for m in metrics(config.out_dir)
    )

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter = result.best_checkpoint
    base = json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
    assert base == str(tiny_model_dir)
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)
    from openrft.models import open_backend

    backend = open_backend(str(adapter))
    backend.close()


def test_the_preflight_refuses_a_grader_that_pays_for_every_label_at_once(tmp_path, tiny_model_dir):
    contains = {
        "type": "string_check",
        "name": "contains_label",
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference_answer}}",
        "operation": "ilike",
    }
    config = make_config(tmp_path, tiny_model_dir, contains, max_steps=1, eval_interval=1)
    labels = ["cat", "dog", "bird"]
    lines = [
        {"messages": [{"role": "user", "content": f"which animal {i}?"}], "reference_answer": labels[i % 3]}
        for i in range(12)
    ]
    config.train_file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(InvalidRequestError, match=r"every label at once scores 1\.00") as caught:
        run_training(config)
    assert caught.value.code == "grader_exploitable" and "--allow-exploits" in caught.value.message
    assert not (config.out_dir / "checkpoints").exists()

    config.allow_exploits = True
    config.out_dir = tmp_path / "allowed"
    result = run_training(config)
    assert result.status == "succeeded" and result.preflight["flagged"] == ["every label at once"]
    events = (config.out_dir / "events.jsonl").read_text()
    assert "allowed although exploitable" in events


@pytest.mark.slow
def test_the_train_command_runs_a_job_and_rejects_bad_input(tmp_path, tiny_model_dir):
    from tests.test_cli import openrft

    train = write_rows(tmp_path / "train.jsonl", 4)
    grader = tmp_path / "grader.json"
    grader.write_text(json.dumps(A_SHARE))
    common = ("train", "--model", str(tiny_model_dir), "--train", str(train), "--grader", str(grader))
    bad = openrft(*common, "--set", "batch_size=zero", "--out", str(tmp_path / "bad"), cwd=tmp_path)
    assert bad.returncode == 2
    assert "hyperparameters.batch_size: 'zero' is not valid" in bad.stderr and "Traceback" not in bad.stderr
    sets = ("max_steps=2", "lora=false", "max_completion_length=8", "batch_size=2")
    args = (
        *common,
        *(a for s in sets for a in ("--set", s)),
        "--skip-preflight",
        "--out",
        str(tmp_path / "job"),
    )
    good = openrft(*args, cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert "job succeeded" in good.stdout
    assert len(metrics(tmp_path / "job")) == 2
    assert (tmp_path / "job" / "best" / "model.safetensors").is_file()
    assert not (tmp_path / "job" / "preflight.json").exists()

    from openrft.cli._train import train_command

    with pytest.raises(InvalidRequestError, match="already holds a job"):
        train_command(str(tiny_model_dir), train, None, grader, tmp_path / "job")
    with pytest.raises(InvalidRequestError, match="holds no job"):
        train_command(resume=tmp_path)
    with pytest.raises(InvalidRequestError, match=r"hyperparameters\.epochs: unknown hyperparameter"):
        train_command(str(tiny_model_dir), train, None, grader, tmp_path / "other", set_=["epochs=2"])


def test_a_response_format_that_is_not_a_schema_is_one_clear_error(tmp_path, tiny_model_dir):
    config = make_config(tmp_path, tiny_model_dir, A_SHARE, max_steps=1)
    config.response_format = {"type": "xml"}
    with pytest.raises(InvalidRequestError, match="response_format type: 'xml' is not one of"):
        run_training(config)


@pytest.mark.slow
def test_micro_batches_give_the_update_of_one_pass(tmp_path, tiny_model_dir):
    # One step of 4 prompts × 8 completions, in one pass and in 8 passes of 4: the same samples,
    # and the same weights after the update (gradient accumulation, up to float rounding).
    from safetensors.torch import load_file

    weights = {}
    for micro in (32, 4):
        config = make_config(
            tmp_path, tiny_model_dir, A_SHARE, out=f"micro-{micro}", max_steps=1, micro_batch_size=micro
        )
        config.preflight = False
        result = run_training(config)
        assert result.hyperparameters is not None and result.hyperparameters.micro_batch_size == micro
        assert result.best_checkpoint is not None
        weights[micro] = load_file(result.best_checkpoint / "model.safetensors")
        rollouts = (config.out_dir / "rollouts.jsonl").read_text()
        weights[f"rollouts-{micro}"] = json.loads(rollouts.splitlines()[0])["groups"]
    assert weights["rollouts-32"] == weights["rollouts-4"]
    # Adam's first step moves each weight by ±lr wherever its gradient is not ~0, so rounding
    # can only flip the weights whose gradient is almost nothing: a few, never most.
    lr = 3e-3
    base = load_file(tiny_model_dir / "model.safetensors")
    moved = differ = total = 0
    for name, tensor in weights[32].items():
        moved += int(((tensor - base[name]).abs() > lr / 2).sum())
        differ += int(((weights[4][name] - tensor).abs() > lr / 100).sum())
        total += tensor.numel()
    print(f"{moved} of {total} weights moved by the step; {differ} differ between 1 and 8 passes")
    assert moved > total / 2 and differ < total / 100


def test_a_decaying_schedule_lowers_the_rate_each_step(tmp_path, tiny_model_dir):
    config = make_config(
        tmp_path, tiny_model_dir, A_SHARE, max_steps=3, eval_interval=3, lr_scheduler="cosine"
    )
    config.preflight = False
    run_training(config)
    rates = [m["trl"]["learning_rate"] for m in metrics(config.out_dir)]
    assert len(rates) == 3 and 3e-3 >= rates[0] > rates[1] > rates[2] >= 0, rates
