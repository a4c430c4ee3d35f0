"""GRPO jobs on a tiny model built in code: it learns, checkpoints, and survives grader errors."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from openrft.training import Hyperparameters, TrainConfig, resolve, run_training
from openrft.training._reward import GraderFailure

A_SHARE = {  # the share of characters that are "a": a reward a random tiny model can climb
    "type": "python",
    "name": "a_share",
    "source": "def grade(sample, item):\n"
    "    text = sample['output_text'].replace(' ', '')\n"
    "    return text.count('a') / len(text) if text else 0.0\n",
}


def flaky(share: float) -> dict:
    """a_share, except that it raises on about ``share`` of the samples (by a hash of the text)."""
    return {
        "type": "python",
        "name": "flaky",
        "source": "import zlib\ndef grade(sample, item):\n"
        "    text = sample['output_text']\n"
        f"    if zlib.crc32((text + str(item['n'])).encode()) % 1000 < {int(share * 1000)}:\n"
        "        raise RuntimeError('grader bug')\n"
        "    text = text.replace(' ', '')\n"
        "    return text.count('a') / len(text) if text else 0.0\n",
    }


def _data(tmp_path: Path, rows: int, name: str) -> Path:
    path = tmp_path / name
    lines = [
        {"messages": [{"role": "user", "content": f"the dog ran {i}"}], "n": i, "reference_answer": "cat"}
        for i in range(rows)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _config(tmp_path: Path, tiny_model_dir: Path, grader: dict, **hp) -> TrainConfig:
    defaults = dict(
        lora=False,
        batch_size=4,
        compute_multiplier=1.0,  # 8 completions per prompt
        learning_rate_multiplier=300,  # 3e-3 on the tiny model (cpu-feasibility §3)
        max_completion_length=16,
        n_epochs=20,
        seed=0,
    )
    return TrainConfig(
        model=str(tiny_model_dir),
        train_file=_data(tmp_path, 16, "train.jsonl"),
        valid_file=_data(tmp_path, 4, "valid.jsonl"),
        grader=grader,
        out_dir=tmp_path / "job",
        hyperparameters=Hyperparameters(**{**defaults, **hp}),
    )


def _train_rewards(out: Path) -> list[float]:
    return [
        json.loads(line)["train_mean_reward"] for line in (out / "metrics.jsonl").read_text().splitlines()
    ]


def test_auto_hyperparameters_follow_the_documented_rules():
    hp = resolve(Hyperparameters(), 300)
    assert (hp.n_epochs, hp.batch_size, hp.num_generations, hp.eval_samples) == (1, 8, 8, 2)
    assert hp.total_steps == 38 and hp.eval_interval == 7 and hp.max_completion_length == 128
    assert hp.learning_rate == pytest.approx(2e-4)
    small = resolve(Hyperparameters(lora=False, learning_rate_multiplier=2, reasoning_effort="low"), 40)
    assert (small.n_epochs, small.batch_size, small.max_completion_length) == (3, 2, 64)
    assert small.learning_rate == pytest.approx(2e-5)


def test_a_tiny_model_learns_the_reward_and_keeps_the_best_checkpoint(tmp_path, tiny_model_dir):
    config = _config(tmp_path, tiny_model_dir, A_SHARE, max_steps=40, eval_interval=20)
    result = run_training(config)
    rewards = _train_rewards(config.out_dir)
    assert len(rewards) == 40
    first, last = statistics.fmean(rewards[:5]), statistics.fmean(rewards[-5:])
    assert last - first > 0.4, rewards
    assert result.status == "succeeded" and result.best_step in (20, 40)
    metrics = [json.loads(line) for line in (config.out_dir / "metrics.jsonl").read_text().splitlines()]
    assert (
        metrics[19]["scores"]["valid_reward_mean"] is not None
        and metrics[0]["scores"]["valid_reward_mean"] is None
    )
    assert all(0.0 <= m["zero_variance_group_fraction"] <= 1.0 for m in metrics)
    events = [json.loads(line) for line in (config.out_dir / "events.jsonl").read_text().splitlines()]
    assert sum(e["type"] == "metrics" for e in events) == 40

    from openrft.models import LocalChatModel

    tuned = LocalChatModel(result.best_checkpoint, device="cpu")
    [[answer]] = tuned.generate(
        [[{"role": "user", "content": "the dog ran 99"}]], temperature=0.0, max_tokens=8
    )
    letters = answer.text.replace(" ", "")
    assert (
        letters.count("a") / max(1, len(letters)) > 0.5
    )  # the held-out greedy answer shows what was learned


def test_grader_errors_on_ten_percent_of_samples_do_not_stop_training(tmp_path, tiny_model_dir):
    config = _config(tmp_path, tiny_model_dir, flaky(0.1), max_steps=4, eval_interval=4)
    result = run_training(config)
    assert result.status == "succeeded"
    metrics = [json.loads(line) for line in (config.out_dir / "metrics.jsonl").read_text().splitlines()]
    rates = [m["grader_error_rate"] for m in metrics]
    assert len(metrics) == 4 and 0 < statistics.fmean(rates) < 0.3
    assert metrics[0]["errors"]["graders"][0]["train_python_grader_runtime_error_count"] > 0


def test_grader_errors_on_ninety_percent_fail_the_job_with_tracebacks(tmp_path, tiny_model_dir):
    config = _config(tmp_path, tiny_model_dir, flaky(0.9), max_steps=4, eval_interval=4)
    with pytest.raises(GraderFailure, match=r"grader errors on \d+% of this step's samples") as caught:
        run_training(config)
    assert "RuntimeError: grader bug" in caught.value.message
    events = (config.out_dir / "events.jsonl").read_text()
    assert '"level": "error"' in events


def test_the_train_command_runs_a_job_and_rejects_bad_hyperparameters(tmp_path, tiny_model_dir):
    from tests.test_cli import openrft

    train = _data(tmp_path, 4, "train.jsonl")
    grader = tmp_path / "grader.json"
    grader.write_text(json.dumps(A_SHARE))
    common = ("train", "--model", str(tiny_model_dir), "--train", str(train), "--grader", str(grader))
    bad = openrft(*common, "--set", "batch_size=zero", "--out", str(tmp_path / "bad"), cwd=tmp_path)
    assert bad.returncode == 2
    assert "hyperparameters.batch_size: 'zero' is not valid" in bad.stderr and "Traceback" not in bad.stderr
    sets = ("max_steps=2", "lora=false", "max_completion_length=8", "batch_size=2")
    good = openrft(
        *common, *(a for s in sets for a in ("--set", s)), "--out", str(tmp_path / "job"), cwd=tmp_path
    )
    assert good.returncode == 0, good.stderr
    assert "job succeeded" in good.stdout
    assert len((tmp_path / "job" / "metrics.jsonl").read_text().splitlines()) == 2
    assert (tmp_path / "job" / "best" / "model.safetensors").is_file()
