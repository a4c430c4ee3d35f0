"""The executor process: how a worker starts one, what it hands it, and how it stops it.

Each job or eval run runs in ``python -m openrft.server.worker._executor KIND ID``. The
worker's settings (server and library) go to the child on its standard input as JSON, so the
child runs with the configuration the worker was built with, not with whatever the
environment says; they travel on a pipe, never through a file, because they hold API keys.
The child gets SIGKILL when its worker dies (``PR_SET_PDEATHSIG``, Linux).
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


def spawn_executor(
    kind: str, ident: str, worker_id: str, settings: ServerSettings, core: Settings, log_path: Path
) -> subprocess.Popen[bytes]:
    """Start the executor of ``kind`` (``job`` or ``run``) ``ident``, writing its output to ``log_path``."""
    env = dict(os.environ)
    # Library code that reads the environment itself sees the same store as the worker.
    env["OPENRFT_DATA_DIR"] = str(Path(settings.data_dir).expanduser())
    if settings.database_url:
        env["OPENRFT_DATABASE_URL"] = settings.database_url
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
