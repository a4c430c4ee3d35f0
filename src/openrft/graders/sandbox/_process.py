"""One sandbox worker seen from the parent: spawn it, talk to it, kill it.

:class:`Worker` frames requests and replies (4-byte length + JSON) with deadlines and a
1 MiB read cap; :func:`parse_reply` re-validates every answer; :func:`isolation_mode`
picks ``bwrap`` or the fallback once per process by starting a real worker.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

from openrft.graders.sandbox._spawn import (
    WorkerSpec,
    bwrap_command,
    fallback_command,
    kill_uid,
    log,
    staging,
    uids,
)

HEADER = struct.Struct(">I")
MAX_REPLY = 1 << 20
"""Largest reply frame the parent accepts (the worker caps its own output far below this)."""


class WorkerFailure(Exception):
    """The worker could not answer; ``kind`` is the ``python_grader_server_error_type``."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind, self.detail = kind, detail


DETAIL_CAP = 16_000
SERVER_KINDS = ("timeout", "memory", "output_limit", "worker_died", "protocol", "spawn_failed", "closed")
SERVER_ERRORS = frozenset((*SERVER_KINDS, "invalid_input"))
"""Statuses that are sandbox failures (``python_grader_server_error_type``)."""


@dataclass(slots=True)
class SandboxResult:
    """The outcome of one grade.

    ``status`` is ``ok`` (``value`` holds the reward), ``error`` (grade raised; ``detail`` is
    the traceback), ``invalid`` (grade returned a non-number), ``load_error`` (the source did
    not load) or one of :data:`SERVER_ERRORS`.
    """

    status: str
    value: float = 0.0
    detail: str | None = None
    stdout: str = ""
    seconds: float = 0.0


def text_field(value: Any, cap: int) -> str:
    return value[:cap] if isinstance(value, str) else ""


def _json_number(value: object) -> float:
    """A JSON number as a float; NaN for anything else (a bool too) and for an int past float's range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    try:
        return float(value)
    except OverflowError:
        return math.nan


def parse_reply(reply: dict[str, Any]) -> SandboxResult:
    """Validate a worker's result frame; the worker is never trusted to have done so."""
    status, seconds = reply.get("s"), _json_number(reply.get("t"))
    seconds = seconds if math.isfinite(seconds) else 0.0
    stdout, detail = text_field(reply.get("o"), 8192), text_field(reply.get("d"), DETAIL_CAP) or None
    if status == "ok":
        value = reply.get("v")
        number = _json_number(value)
        if math.isfinite(number):
            return SandboxResult("ok", number, None, stdout, seconds)
        status, detail = "invalid", f"grade returned {str(value)[:60]}; expected a finite number"
    if status not in ("error", "invalid", "timeout", "memory", "output_limit"):
        status, detail = "protocol", f"unexpected reply status {str(status)[:40]!r}"
    return SandboxResult(status, 0.0, detail, stdout, seconds)


# --- one worker ----------------------------------------------------------------------------------

STARTUP_ALLOWANCE = 30.0
"""Seconds a worker may take to start (bwrap + interpreter) before its source loads."""


class Worker:
    """One sandboxed worker process; used by a single pool thread (``kill`` from any thread)."""

    def __init__(self, spec: WorkerSpec, uid: int):
        self.spec, self.uid = spec, uid
        self.proc: subprocess.Popen[bytes] | None = None
        self.graded = 0
        self.cpu = 0.0
        self.confinement: dict[str, Any] = {}
        self._buf, self._pos = b"", 0
        self._tmp: str | None = None
        self._lock = threading.Lock()
        self._dead = False

    # life cycle

    def start(self) -> dict[str, Any]:
        """Spawn, hand over the source, and return the load reply (``ready`` or ``load_error``).

        Raises :class:`WorkerFailure` ``spawn_failed`` when the sandbox itself did not come up.
        """
        fds: list[int] = []
        kwargs: dict[str, Any] = {}
        if self.spec.isolation == "bwrap":
            argv, env, cwd = bwrap_command(self.spec, self.uid), {"PATH": "/usr/bin:/bin"}, "/"
        else:
            switch = self.uid != os.getuid()
            cwd = self._tmp = staging().private_tmp(self.uid) if switch else tempfile.mkdtemp()
            argv, env, fds = fallback_command(self.spec, self.uid, cwd)
            if switch:
                kwargs = {"user": self.uid, "group": self.uid, "extra_groups": []}
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                cwd=cwd, pass_fds=fds, start_new_session=True, **kwargs,
            )  # fmt: skip
        finally:
            for fd in fds:
                os.close(fd)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._wfd, self._rfd = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        os.set_blocking(self._wfd, False)
        self._poll = select.poll()
        self._poll.register(self._rfd, select.POLLIN)
        try:
            self.confinement = self.receive(STARTUP_ALLOWANCE)
        except WorkerFailure as failure:
            raise WorkerFailure("spawn_failed", f"{failure.detail} {self._stderr()}".strip()) from None
        _log_confinement(self.spec.isolation, self.confinement)
        self.send(json.dumps({"source": self.spec.source}).encode(), STARTUP_ALLOWANCE)
        try:
            return self.receive(self.spec.load_timeout + self.spec.grace)
        except WorkerFailure as failure:  # the source's top-level code took the worker down
            if failure.kind == "timeout":
                return {"s": "load_error", "d": f"loading the source took over {self.spec.load_timeout:g} s"}
            return {"s": "load_error", "d": f"loading the source broke the worker ({failure.detail})"}

    def interrupt(self) -> None:
        """SIGKILL what runs inside the sandbox, from any thread; :meth:`kill` reaps.

        Under bwrap the monitor is spared: it reaps the sandbox's pid 1 and exits by itself
        (killing it first would orphan pid 1 to the host's init).
        """
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        if self.uid != os.getuid():
            kill_uid(self.uid, spare=proc.pid if self.spec.isolation == "bwrap" else None)
        else:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)

    def kill(self) -> None:
        """Kill the worker and everything its uid runs, reap, and wait until none is left.

        Call it from the thread that started the worker: bwrap's ``--die-with-parent`` fires
        when that thread ends.
        """
        with self._lock:
            dead, self._dead = self._dead, True
        if self._tmp is not None and self.proc is None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        if dead or self.proc is None:
            return
        proc = self.proc
        self.interrupt()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1.0)
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        deadline = time.monotonic() + 5.0
        while kill_uid(self.uid) and time.monotonic() < deadline:
            time.sleep(0.005)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    @property
    def alive(self) -> bool:
        return not self._dead and self.proc is not None and self.proc.poll() is None

    def _stderr(self) -> str:
        """What bwrap or the interpreter said before the worker silenced fd 2 (capped)."""
        if self.proc is None or self.proc.stderr is None:
            return ""
        os.set_blocking(self.proc.stderr.fileno(), False)
        try:
            return (self.proc.stderr.read(4096) or b"").decode(errors="replace").strip()
        except OSError:
            return ""

    # protocol

    def send(self, payload: bytes, timeout: float) -> None:
        view = memoryview(HEADER.pack(len(payload)) + payload)
        deadline = time.monotonic() + timeout
        while view:
            try:
                view = view[os.write(self._wfd, view) :]
                continue
            except BlockingIOError:
                pass
            except (BrokenPipeError, ValueError, OSError) as exc:
                raise WorkerFailure("worker_died", self._exit_detail() or str(exc)) from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerFailure("timeout", "the worker stopped reading its requests")
            select.select([], [self._wfd], [], remaining)

    def receive(self, timeout: float) -> dict[str, Any]:
        """The next reply frame; raises :class:`WorkerFailure` (timeout, worker_died, …)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self._parse()
            if frame is not None:
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerFailure("timeout", f"no answer within {timeout:g} s")
            if not self._poll.poll(remaining * 1000):
                continue
            try:
                data = os.read(self._rfd, 1 << 16)
            except OSError:
                data = b""
            if not data:
                raise WorkerFailure("worker_died", self._exit_detail())
            self._buf = self._buf[self._pos :] + data if self._pos < len(self._buf) else data
            self._pos = 0

    def has_pending(self) -> bool:
        """Whether bytes wait that no request asked for (or the worker hung up)."""
        if self.proc is None:
            return False
        return self._pos < len(self._buf) or bool(self._poll.poll(0))

    def _parse(self) -> dict[str, Any] | None:
        available = len(self._buf) - self._pos
        if available < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self._buf, self._pos)
        if size > MAX_REPLY:
            raise WorkerFailure("output_limit", f"a reply of {size} bytes (the cap is {MAX_REPLY})")
        if available < HEADER.size + size:
            return None
        start = self._pos + HEADER.size
        self._pos = start + size
        try:
            frame = json.loads(self._buf[start : self._pos])
        except ValueError:
            frame = None
        if not isinstance(frame, dict):
            raise WorkerFailure("protocol", "the worker sent a malformed reply")
        return frame

    def _exit_detail(self) -> str:
        if self.proc is None:
            return ""
        try:
            code = self.proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            return "the worker closed its pipe"
        if code < 0:
            return f"the worker was killed by {signal.Signals(-code).name}"
        return f"the worker exited with status {code}"


# --- which isolation ------------------------------------------------------------------------------

_mode_lock = threading.Lock()
_modes: dict[str, str] = {}
PROBE_SOURCE = "def grade(sample, item):\n    return 1.0\n"


def isolation_mode(requested: str = "auto") -> str:
    """``bwrap`` when a real bubblewrap worker starts here, else ``fallback`` (logged once)."""
    if requested in ("bwrap", "fallback"):
        return requested
    with _mode_lock:
        if "auto" not in _modes:
            _modes["auto"] = _probe()
        return _modes["auto"]


def _probe() -> str:
    reason = "bwrap is not installed"
    if shutil.which("bwrap"):
        uid = uids.take()
        worker = Worker(WorkerSpec(PROBE_SOURCE, timeout=10.0, isolation="bwrap"), uid)
        try:
            reply = worker.start()
            if reply.get("s") == "ready":
                return "bwrap"
            reason = str(reply.get("d"))
        except (WorkerFailure, OSError) as exc:
            reason = str(exc)
        finally:
            worker.kill()
            uids.give_back(uid)
    log.warning(
        "python-grader sandbox: bubblewrap is unavailable (%s); using the fallback: unprivileged "
        "uid + rlimits + seccomp + Landlock, without mount, pid or network namespaces",
        reason[:300],
    )
    return "fallback"


_logged: set[str] = set()


def _log_confinement(mode: str, confinement: dict[str, Any]) -> None:
    """Say once per mode what confinement the workers got."""
    if mode in _logged:
        return
    _logged.add(mode)
    landlock, seccomp = confinement.get("landlock", 0), confinement.get("seccomp", False)
    log.info("python-grader sandbox: %s, Landlock ABI %s, seccomp %s", mode, landlock, seccomp)
    if not landlock or not seccomp:
        log.warning(
            "python-grader sandbox: %s is unavailable on this kernel/architecture; workers run without it",
            "Landlock" if not landlock else "seccomp",
        )
