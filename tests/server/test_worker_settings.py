"""A worker runs its executors with the settings it was built with, not with the environment's."""

from __future__ import annotations

import os

import pytest

from openrft.config import Settings
from tests.server.conftest import FAST_WORKER, run_server, wait_for

SLOW_PYTHON = {
    "type": "python",
    "name": "slow",
    "source": "import time\n\ndef grade(sample, item):\n    time.sleep(4)\n    return 1.0\n",
}


@pytest.mark.needs("root", "bwrap")  # python graders run in the sandbox
def test_an_eval_run_grades_with_the_workers_own_grader_timeout(tmp_path):
    from openrft.server.worker import start_worker_threads

    # The environment says nothing of the timeout (default 120 s); the worker is given 1 s.
    assert "OPENRFT_PYTHON_GRADER_TIMEOUT" not in os.environ
    core = Settings(python_grader_timeout=1, python_grader_workers=1)
    with run_server(tmp_path / "data", **FAST_WORKER) as running:
        state = running.app.state.openrft
        stop, threads = start_worker_threads(state.settings, 1, store=state.store, core=core)
        try:
            client = running.client()
            ev = client.evals.create(
                data_source_config={"type": "custom", "item_schema": {"type": "object"}},
                testing_criteria=[{**SLOW_PYTHON, "pass_threshold": 0.5}],
            )
            content = [{"item": {"n": 1}, "sample": {"output_text": "a"}}]
            run = client.evals.runs.create(
                ev.id, data_source={"type": "jsonl", "source": {"type": "file_content", "content": content}}
            )
            done = wait_for(
                lambda: client.evals.runs.retrieve(run.id, eval_id=ev.id),
                lambda r: r.status in ("completed", "failed", "canceled"),
                timeout=120,
            )
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
    assert done.status == "completed", done.error
    # With the environment's 120 s the 4 s grade would pass; with the worker's 1 s it times out.
    assert done.result_counts.errored == 1 and done.result_counts.passed == 0


def test_workers_side_by_side_split_the_cores_between_their_jobs(monkeypatch, tmp_path):
    import subprocess
    import sys

    from openrft.server._shared import ServerSettings
    from openrft.server.worker._process import executor_env, executor_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert [executor_threads(n) for n in (1, 2, 3, 16)] == [None, 4, 2, 1]
    monkeypatch.setenv("OMP_NUM_THREADS", "6")  # the operator's setting wins
    assert executor_threads(2) is None
    monkeypatch.delenv("OMP_NUM_THREADS")
    # The child's torch takes the share (alone it takes one thread per core, at most the cores).
    env = executor_env(ServerSettings(data_dir=tmp_path), threads=1)
    probe = "import torch; print(torch.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1" and env["OPENRFT_DATA_DIR"] == str(tmp_path)
