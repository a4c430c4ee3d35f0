"""The executor process: how a worker starts one, what it hands it, and how it stops it.

Each job or eval run runs in ``python -m openrft.server.worker._executor KIND ID``. The
worker's settings (server and library) go to the child on its standard input as JSON, so the
child runs with the configuration the worker was built with, not with whatever the
environment says; they travel on a pipe, never through a file, because they hold API keys.
The child gets SIGKILL when its worker dies (``PR_SET_PDEATHSIG``, Linux).

Several workers on one machine split its cores between their children (:func:`executor_threads`):
torch starts one thread per core in every process, and two jobs that each do so on the same
cores wait on each other's threads (``benchmarks/worker_threads.py``).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from openrft.config import Settings
from openrft.server._shared import ServerSettings

STOP_GRACE_SECONDS = 10.0
PR_SET_PDEATHSIG = 1


def executor_threads(workers: int) -> int | None:
    """CPU threads for each child of ``workers`` workers side by side on this machine: the cores
    split between them. None (torch's own choice) for a single worker, or when ``OMP_NUM_THREADS``
    is set already, since the operator's choice wins."""
    if workers <= 1 or "OMP_NUM_THREADS" in os.environ:
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // workers)


def executor_env(settings: ServerSettings, threads: int | None) -> dict[str, str]:
    """The child's environment: this one, the worker's store, and ``threads`` CPU threads if set."""
    env = dict(os.environ)
    # Library code that reads the environment itself sees the same store as the worker.
    env["OPENRFT_DATA_DIR"] = str(Path(settings.data_dir).expanduser())
    if settings.database_url:
        env["OPENRFT_DATABASE_URL"] = settings.database_url
    if threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def spawn_executor(
    kind: str,
    ident: str,
    worker_id: str,
    settings: ServerSettings,
    core: Settings,
    log_path: Path,
    threads: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start the executor of ``kind`` (``job`` or ``run``) ``ident``, writing its output to
    ``log_path``; ``threads`` caps its CPU threads (:func:`executor_threads`)."""
    env = executor_env(settings, threads)
    command = [sys.executable, "-m", "openrft.server.worker._executor", kind, ident, "--worker", worker_id]
    command += ["--parent", str(os.getpid())]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as handle:
        # Its own session: a Ctrl-C in the terminal reaches the worker, which stops it in order.
        proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    handoff = {
        "server": settings.model_dump(mode="json", exclude={"api_keys"}),
        "core": core.model_dump(mode="json"),
    }
    assert proc.stdin is not None
    with contextlib.suppress(BrokenPipeError):  # a child that died at once is reported by its exit
        proc.stdin.write(json.dumps(handoff).encode())
        proc.stdin.close()
    return proc


def read_handoff(stream: IO[str]) -> tuple[ServerSettings, Settings]:
    """The settings :func:`spawn_executor` wrote to the child's standard input."""
    handoff = json.loads(stream.read())
    return ServerSettings.model_validate(handoff["server"]), Settings.model_validate(handoff["core"])


def die_with_parent(parent: int) -> None:
    """Get SIGKILL when the worker that started us dies (Linux); exit if it is already gone."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        sys.exit(3)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def stop_child(proc: subprocess.Popen[bytes], grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM the child's process group, then SIGKILL it after ``grace`` seconds."""
    _kill_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _kill_group(proc, signal.SIGKILL)
        proc.wait()
