"""Crash safety: SIGKILL mid-run then ``--resume``, pause then resume, cancel, whole checkpoints.

Every interrupted job must end exactly like the uninterrupted one (deterministic CPU mode):
the same metrics for every step, recorded once, and bit-identical final weights.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from openrft.training import JobControl, run_training
from openrft.training._checkpoints import best, checkpoints, prune, publish, record_score
from tests.training.helpers import A_SHARE, make_config, metrics, without_timing

STEPS = 12
JOB = dict(  # LoRA, 2 prompts × 4 completions, 8 rows: 4 steps per epoch, so a resume lands mid-epoch 2
    lora=True,
    lora_rank=4,
    learning_rate_multiplier=10,
    batch_size=2,
    compute_multiplier=1.0,  # the CPU's group: 4 completions per prompt
    temperature=1.0,
    max_completion_length=12,
    max_steps=STEPS,
    eval_interval=3,
)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """The uninterrupted job."""
    root = tmp_path_factory.mktemp("reference")
    config = make_config(root, tiny_model_dir, A_SHARE, train_rows=8, **JOB)
    assert run_training(config).status == "succeeded"
    return config.out_dir


def _final_adapter(out: Path) -> dict:
    return load_file(out / "checkpoints" / f"checkpoint-{STEPS}" / "adapter_model.safetensors")


def _assert_same_job(out: Path, reference: Path) -> None:
    got, want = metrics(out), metrics(reference)
    assert [m["step"] for m in got] == list(range(1, STEPS + 1))  # no step lost or repeated
    assert without_timing(got) == without_timing(want)
    a, b = _final_adapter(out), _final_adapter(reference)
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    rollouts = [json.loads(line)["step"] for line in (out / "rollouts.jsonl").read_text().splitlines()]
    assert rollouts == list(range(1, STEPS + 1))


def _cli(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    with (cwd / "stderr.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "openrft.cli", "train", *args],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_ends_like_an_uninterrupted_run(tmp_path, tiny_model_dir, reference):
    config = make_config(tmp_path, tiny_model_dir, A_SHARE, train_rows=8, **JOB)
    grader = tmp_path / "grader.json"
    grader.write_text(json.dumps(A_SHARE))
    sets = [
        a for k, v in {**JOB, "seed": 0, "n_epochs": 20}.items() for a in ("--set", f"{k}={json.dumps(v)}")
    ]
    start = (
        *(
            "--model",
            str(tiny_model_dir),
            "--train",
            str(config.train_file),
            "--valid",
            str(config.valid_file),
        ),
        *("--grader", str(grader), "--out", str(config.out_dir), *sets),
    )
    job = _cli(*start, cwd=tmp_path)
    deadline = time.monotonic() + 120
    lines = config.out_dir / "metrics.jsonl"
    while job.poll() is None and time.monotonic() < deadline:
        if lines.exists() and len(lines.read_text().splitlines()) >= 7:  # checkpoint 6 is written
            os.kill(job.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    assert job.wait() == -signal.SIGKILL, "the job ended before it could be killed"
    assert 6 in checkpoints(config.out_dir / "checkpoints")
    # A kill during a save leaves a staging folder: it must never be taken for a checkpoint.
    torn = config.out_dir / "checkpoints" / ".staging-9" / "checkpoint-9"
    torn.mkdir(parents=True)
    (torn / "adapter_model.safetensors").write_bytes(b"torn")

    resumed = _cli("--resume", str(config.out_dir), cwd=tmp_path)
    assert resumed.wait(timeout=180) == 0, (tmp_path / "stderr.log").read_text()
    _assert_same_job(config.out_dir, reference)
    assert not (config.out_dir / "checkpoints" / ".staging-9").exists()
    events = [json.loads(line) for line in (config.out_dir / "events.jsonl").read_text().splitlines()]
    assert any(e["message"].startswith("Resuming from step 6") for e in events)
    assert sum(e["type"] == "metrics" for e in events) == STEPS


@pytest.mark.slow
def test_pause_checkpoints_and_a_resumed_job_ends_like_an_uninterrupted_one(
    tmp_path, tiny_model_dir, reference
):
    config = make_config(tmp_path, tiny_model_dir, A_SHARE, train_rows=8, **JOB)
    control = JobControl()

    def pause_after_step_4(event: dict) -> None:
        if event["type"] == "metrics" and event["data"]["step"] == 4:
            control.pause()

    paused = run_training(config, control=control, on_event=pause_after_step_4)
    assert max(checkpoints(config.out_dir / "checkpoints")) == 5  # the step under way finished, saved
    # the best checkpoint so far is exported at a pause too, ready to evaluate
    assert paused.status == "paused" and paused.best_checkpoint == config.out_dir / "best"
    assert paused.best_step == best(config.out_dir / "checkpoints")[0]
    assert (
        json.loads((config.out_dir / "best" / "openrft-checkpoint.json").read_text())["step"]
        == paused.best_step
    )
    assert len(metrics(config.out_dir)) == 5
    assert run_training(config).status == "succeeded"
    _assert_same_job(config.out_dir, reference)
    # the checkpoint of the pause stays, as OpenAI keeps it usable; the reference job has none at 5
    assert 5 in checkpoints(config.out_dir / "checkpoints")
    assert 5 not in checkpoints(reference / "checkpoints")


def test_cancel_stops_after_the_step_without_a_checkpoint(tmp_path, tiny_model_dir):
    config = make_config(tmp_path, tiny_model_dir, A_SHARE, train_rows=8, **{**JOB, "eval_interval": 10})
    control = JobControl()
    control.cancel()
    result = run_training(config, control=control)
    assert result.status == "cancelled" and result.best_checkpoint is None
    assert len(metrics(config.out_dir)) == 1 and not checkpoints(config.out_dir / "checkpoints")


def test_checkpoints_are_published_whole_and_the_best_three_plus_latest_kept(tmp_path):
    folder = tmp_path / "checkpoints"
    for step, valid in [(1, 0.2), (2, 0.9), (3, 0.5), (4, 0.7), (5, 0.1), (6, None)]:
        staging = folder / f".staging-{step}" / f"checkpoint-{step}"
        staging.mkdir(parents=True)
        (staging / "weights").write_text(str(step))
        publish(staging, folder / f"checkpoint-{step}")
        record_score(folder, step, valid=valid, train=0.0)
        prune(folder, latest=step)
    assert sorted(checkpoints(folder)) == [2, 3, 4, 6]  # best three by valid reward + the latest
    assert best(folder) == (2, folder / "checkpoint-2")
    assert (folder / "checkpoint-4" / "weights").read_text() == "4"
    replacement = folder / ".staging-x" / "checkpoint-4"
    replacement.mkdir(parents=True)
    (replacement / "weights").write_text("new")
    publish(replacement, folder / "checkpoint-4")  # replacing a folder is one rename too
    assert (folder / "checkpoint-4" / "weights").read_text() == "new"
    assert not any(p.name.startswith(".staging-old") for p in folder.iterdir())
