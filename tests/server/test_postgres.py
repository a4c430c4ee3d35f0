"""Two ``openrft worker`` processes on one PostgreSQL database: every queued job runs exactly once.

PostgreSQL comes from Debian's packages (``scripts/setup.sh`` installs them); the test starts a
throwaway cluster on a free port and removes it afterwards.
"""

from __future__ import annotations

import glob
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import Running, free_port, rft_rows, run_server, wait_for
from tests.server.test_jobs import A_SHARE
from tests.services import require

pytestmark = [pytest.mark.slow, pytest.mark.needs("postgres")]

JOBS = 4


def _as_postgres(command: list[str]) -> list[str]:
    # initdb refuses to run as root: as root, run the server as Debian's postgres user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    require("postgres")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    bin_dir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="openrft-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", free_port()
    subprocess.run(
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "openrft"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "-l", str(root / "log"), "start"]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://openrft@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def api(tmp_path: Path, tiny_model_dir: Path, postgres_url: str) -> Iterator[Running]:
    with run_server(
        tmp_path / "data", database_url=postgres_url, models={"tiny": str(tiny_model_dir)}
    ) as running:
        yield running


def test_two_workers_on_one_postgres_run_every_job_exactly_once(
    api: Running, postgres_url: str, tmp_path: Path
):
    client = api.client()
    train = client.files.create(file=("t.jsonl", io.BytesIO(rft_rows(4))), purpose="fine-tune")
    hyper = {"batch_size": 2, "compute_multiplier": 0.5, "max_steps": 2, "max_completion_length": 6}
    method = {"type": "reinforcement", "reinforcement": {"grader": A_SHARE, "hyperparameters": hyper}}
    jobs = [
        client.fine_tuning.jobs.create(model="tiny", training_file=train.id, method=method)
        for _ in range(JOBS)
    ]
    assert {j.status for j in jobs} == {"queued"}

    env = {
        **os.environ,
        "OPENRFT_DATABASE_URL": postgres_url,
        "OPENRFT_DATA_DIR": str(api.data_dir),
        "OPENRFT_POLL_SECONDS": "0.2",
        "OPENRFT_HEARTBEAT_SECONDS": "0.5",
    }
    workers = []
    for name in ("worker-a", "worker-b"):
        with (tmp_path / f"{name}.log").open("wb") as log:
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "openrft.cli", "worker", "--name", name],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        finished = [
            wait_for(
                lambda job_id=job.id: client.fine_tuning.jobs.retrieve(job_id),
                lambda j: j.status in ("succeeded", "failed", "cancelled"),
                timeout=300,
            )
            for job in jobs
        ]
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGINT)
        for proc in workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    logs = "".join((tmp_path / f"{n}.log").read_text() for n in ("worker-a", "worker-b"))
    assert [j.status for j in finished] == ["succeeded"] * JOBS, logs
    runners = {}
    for job in finished:
        assert job.model_extra["openrft"]["attempts"] == 1
        starts = [
            e.message
            for e in client.fine_tuning.jobs.list_events(job.id, limit=100)
            if "started on worker" in e.message
        ]
        assert len(starts) == 1, starts  # claimed by exactly one worker, once
        runners[job.id] = starts[0].split("started on worker ")[1].split(" ")[0]
        steps = [
            e.data["step"]
            for e in client.fine_tuning.jobs.list_events(job.id, limit=100)
            if e.type == "metrics"
        ]
        assert sorted(steps) == [1, 2]
    assert set(runners.values()) <= {"worker-a", "worker-b"}
