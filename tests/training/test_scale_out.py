"""The multi-process path: ``openrft train --num-processes 2`` through accelerate, on CPU (gloo)."""

from __future__ import annotations

import json

import pytest

from openrft.training import accelerate_command
from openrft.training._checkpoints import checkpoints
from tests.training.helpers import A_SHARE, metrics, write_rows


@pytest.mark.slow
def test_two_processes_train_one_job_through_accelerate(tmp_path, tiny_model_dir):
    from tests.test_cli import openrft

    grader = tmp_path / "grader.json"
    grader.write_text(json.dumps(A_SHARE))
    sets = ("max_steps=2", "lora=false", "batch_size=2", "compute_multiplier=1", "max_completion_length=8")
    out = tmp_path / "job"
    run = openrft(
        *("train", "--model", str(tiny_model_dir), "--grader", str(grader), "--out", str(out)),
        *("--train", str(write_rows(tmp_path / "train.jsonl", 8))),
        *("--valid", str(write_rows(tmp_path / "valid.jsonl", 2))),
        *(a for s in sets for a in ("--set", s)),
        *("--num-processes", "2", "--skip-preflight"),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr + (out / "launch.log").read_text()
    assert "job succeeded" in run.stdout
    rows = metrics(out)
    assert [m["step"] for m in rows] == [1, 2]
    assert all(m["samples"] == 8 for m in rows)  # 2 prompts × 4 completions, gathered from both processes
    steps = [json.loads(line) for line in (out / "rollouts.jsonl").read_text().splitlines()]
    assert [len(s["groups"]) for s in steps] == [2, 2]
    final = checkpoints(out / "checkpoints")[2]
    # Each process saves its own RNG state (rng_state_<rank>.pth); one process alone writes rng_state.pth.
    assert sorted(p.name for p in final.glob("rng_state*.pth")) == ["rng_state_0.pth", "rng_state_1.pth"]
    assert (out / "best" / "model.safetensors").is_file()
    assert (out / "launch.log").is_file()  # the processes' output, kept for diagnosis


def test_the_launch_command_uses_torchrun_or_the_given_config(tmp_path):
    plain = accelerate_command(tmp_path, num_processes=4, port=29555)
    assert plain[1:3] == ["-m", "accelerate.commands.launch"] and "--multi_gpu" in plain
    assert plain[plain.index("--num_processes") + 1] == "4"
    assert plain[-4:] == ["--module", "openrft.training", "run", str(tmp_path)]
    config = tmp_path / "deepspeed.yaml"
    with_config = accelerate_command(tmp_path, num_processes=2, config_file=config)
    assert with_config[with_config.index("--config_file") + 1] == str(config)
    assert "--multi_gpu" not in with_config
