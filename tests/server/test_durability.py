"""Durability: ``kill -9`` of ``openrft serve`` mid-job loses no job, no file and no step."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest

from tests.server.conftest import API_KEY, free_port, rft_rows, wait_for
from tests.server.test_jobs import A_SHARE

pytestmark = pytest.mark.slow

STEPS = 24


@contextmanager
def serve(data_dir: Path, tiny: Path, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``openrft serve`` in a subprocess with one worker; yields it and its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "OPENRFT_API_KEYS": API_KEY,
        "OPENRFT_LEASE_SECONDS": "3",
        "OPENRFT_HEARTBEAT_SECONDS": "0.5",
        "OPENRFT_POLL_SECONDS": "0.2",
    }
    command = [sys.executable, "-m", "openrft.cli", "serve", "--port", str(port)]
    command += ["--data-dir", str(data_dir), "--model", f"tiny={tiny}"]
    with log.open("ab") as handle:
        proc = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not come up"
        time.sleep(0.1)
    try:
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_sigkill_mid_job_then_restart_finishes_the_job_without_lost_steps(tmp_path, tiny_model_dir):
    data_dir, log = tmp_path / "data", tmp_path / "serve.log"
    with serve(data_dir, tiny_model_dir, log) as (proc, url):
        client = openai.OpenAI(base_url=url, api_key=API_KEY, max_retries=0)
        train = client.files.create(file=("train.jsonl", io.BytesIO(rft_rows(8))), purpose="fine-tune")
        valid = client.files.create(file=("valid.jsonl", io.BytesIO(rft_rows(2))), purpose="fine-tune")
        hyper = {
            "batch_size": 2,
            "compute_multiplier": 0.5,
            "n_epochs": 10,
            "max_steps": STEPS,
            "eval_interval": 3,
            "eval_samples": 1,
            "max_completion_length": 8,
        }
        job = client.fine_tuning.jobs.create(
            model="tiny",
            training_file=train.id,
            validation_file=valid.id,
            method={"type": "reinforcement", "reinforcement": {"grader": A_SHARE, "hyperparameters": hyper}},
        )
        # Kill once a checkpoint exists and the job is past it, mid-run.
        wait_for(
            lambda: client.fine_tuning.jobs.retrieve(job.id),
            lambda j: ((j.model_extra.get("openrft") or {}).get("step") or 0) >= 4,
            timeout=180,
        )
        at_kill = client.fine_tuning.jobs.retrieve(job.id)
        proc.kill()
        proc.wait()
    killed_at = at_kill.model_extra["openrft"]["step"]
    assert at_kill.status == "running" and killed_at < STEPS, "the job ended before the kill"

    with serve(data_dir, tiny_model_dir, log) as (_, url):
        client = openai.OpenAI(base_url=url, api_key=API_KEY, max_retries=0)
        assert {f.id for f in client.files.list()} == {train.id, valid.id}  # uploads survived
        done = wait_for(
            lambda: client.fine_tuning.jobs.retrieve(job.id),
            lambda j: j.status in ("succeeded", "failed", "cancelled"),
            timeout=240,
        )
        events = list(client.fine_tuning.jobs.list_events(job.id, limit=1000))
        assert done.status == "succeeded", [e.message for e in events]
        steps = sorted(e.data["step"] for e in events if e.type == "metrics")
        assert steps == list(range(1, STEPS + 1))  # every step once: none lost, none repeated
        assert done.model_extra["openrft"]["attempts"] == 2
        messages = [e.message for e in events]
        assert any("stopped responding" in m or "resumed" in m for m in messages), messages
        runs = client.evals.runs.list(done.model_extra["eval_id"], limit=100).data
        assert sorted(int(r.metadata["step"]) for r in runs) == list(range(3, STEPS + 1, 3))
        reply = client.chat.completions.create(
            model=done.fine_tuned_model, messages=[{"role": "user", "content": "hi"}], max_tokens=3
        )
        assert reply.choices[0].message.content is not None
