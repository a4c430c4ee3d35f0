"""How a python-grader sandbox worker is started (the pool module states the threat model).

- :func:`bwrap_command`: bubblewrap, entered as a dedicated unprivileged uid. When root and the
  Python install is not reachable by other uids (pyenv under a 0700 /root), a root launcher
  first bind-mounts it and site-packages, read-only, onto world-traversable staging mount
  points in a private mount namespace; the project itself is never mounted.
- :func:`fallback_command`: no bubblewrap: the worker runs as the uid and confines itself
  (rlimits, Landlock, seccomp); unreachable directories are passed as O_PATH fds.
- :data:`uids` hands each live worker its own uid, unique on the host: a uid is held by an
  exclusive ``flock`` on ``<lock dir>/uid-N.lock``, which every openrft process on the host
  takes the same way and the kernel lets go when the holder dies (even by SIGKILL), so two
  processes never share a uid and one's recycling never kills the other's worker;
  :func:`kill_uid` and :func:`processes_of_uid` kill and prove gone everything a uid runs.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import sys
import sysconfig
import tempfile
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger("openrft.graders.sandbox")

UID_BASE, UID_SPAN = 1_500_000_000, 1_000_000
"""Sandbox uids (and gids) are taken from here: far from real, system and subordinate ids."""
UID_LOCK_DIR = "/run/openrft-sandbox-uids"
"""Where the host's uid locks live (root only: only root switches uids)."""
SITE_IN_SANDBOX = "/opt/grader/site-packages"
SANDBOX_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    **dict.fromkeys(
        ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"), "1"
    ),
    "RAYON_NUM_THREADS": "1",
}
DEVICES = ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"]


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker is started with; one spec per pool."""

    source: str
    timeout: float
    memory_mb: int = 2048
    disk_mb: int = 1024
    stdout_cap: int = 4096
    output_limit: int = 1 << 20
    isolation: str = "bwrap"

    @property
    def grace(self) -> float:
        """Extra wall-clock time the parent allows beyond the worker's own soft timeout."""
        return min(10.0, max(1.0, self.timeout * 0.1))

    @property
    def load_timeout(self) -> float:
        return max(self.timeout, 60.0)

    @property
    def cpu_budget(self) -> int:
        """RLIMIT_CPU of a worker's whole life; the pool recycles workers at half of it."""
        return int(max(3600.0, self.timeout * 20))


# --- the host side of the layout -------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    executable: str
    prefix: str
    sites: tuple[str, ...]


@cache
def python_layout() -> Layout:
    """The real interpreter, its install prefix and this environment's site-packages."""
    paths = sysconfig.get_paths()
    sites = tuple(dict.fromkeys(os.path.realpath(paths[key]) for key in ("purelib", "platlib")))
    return Layout(os.path.realpath(sys.executable), os.path.realpath(sys.base_prefix), sites)


def traversable(path: str) -> bool:
    """Whether any uid can reach ``path`` (every ancestor has o+x and the leaf o+r)."""
    parts = Path(path).parts
    for depth in range(1, len(parts) + 1):
        mode = os.stat(Path(*parts[:depth])).st_mode
        if not mode & 0o001 or (depth == len(parts) and not mode & 0o004):
            return False
    return True


class _Staging:
    """A root-owned 0711 directory holding empty mount points and fallback temp dirs."""

    def __init__(self) -> None:
        self.base = tempfile.mkdtemp(prefix="openrft-sandbox-")
        os.chmod(self.base, 0o711)
        atexit.register(shutil.rmtree, self.base, True)

    def mount_point(self, name: str) -> str:
        path = os.path.join(self.base, name)
        os.makedirs(path, mode=0o755, exist_ok=True)
        return path

    def private_tmp(self, uid: int) -> str:
        path = os.path.join(self.base, f"tmp-{uid}")
        shutil.rmtree(path, ignore_errors=True)
        os.mkdir(path, 0o700)
        os.chown(path, uid, uid)
        return path


@cache
def staging() -> _Staging:
    return _Staging()


# --- uids ---------------------------------------------------------------------------------------


def _uid_of(pid: int | str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def processes_of_uid(uid: int) -> list[int]:
    """Pids whose real uid is ``uid`` (read from /proc; no psutil)."""
    return [int(name) for name in os.listdir("/proc") if name.isdigit() and _uid_of(name) == uid]


def _lock_dir(path: str) -> str:
    """The uid-lock folder, created root-only; refused if anyone else could have made or changed it."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if not os.path.isdir(path) or os.path.islink(path) or info.st_uid != 0 or info.st_mode & 0o022:
        raise RuntimeError(f"{path} must be a directory owned by root and writable only by it")
    return path


class _UidAllocator:
    """Hands out one dedicated uid per live worker, unique across the host's processes.

    RLIMIT_NPROC counts per uid, and a worker is killed by its uid: two workers sharing one
    would starve or kill each other. A uid is ours while we hold ``uid-N.lock`` (``flock``).
    """

    def __init__(self, lock_dir: str = UID_LOCK_DIR) -> None:
        self.lock_dir = lock_dir
        self._lock = threading.Lock()
        self._held: dict[int, int] = {}
        """uid → the descriptor holding its lock."""

    def take(self) -> int:
        if os.geteuid() != 0:
            return os.getuid()  # cannot switch: the worker runs as us (see the threat model)
        with self._lock:
            folder = _lock_dir(self.lock_dir)
            # The lowest free uid: the same few lock files serve a host for its whole life.
            for uid in range(UID_BASE, UID_BASE + UID_SPAN):
                if uid in self._held:
                    continue
                fd = os.open(
                    f"{folder}/uid-{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
                )
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)  # another process's
                    continue
                if processes_of_uid(uid):  # left by a process that died holding it: not reusable yet
                    os.close(fd)
                    continue
                self._held[uid] = fd
                return uid
        raise RuntimeError("no free sandbox uid")

    def give_back(self, uid: int) -> None:
        with self._lock:
            fd = self._held.pop(uid, None)
        if fd is not None:
            os.close(fd)

    def held(self) -> list[int]:
        """The uids this process holds now (one per live or starting worker)."""
        with self._lock:
            return sorted(self._held)


uids = _UidAllocator()


def kill_uid(uid: int, spare: int | None = None) -> int:
    """SIGKILL every process of a dedicated sandbox uid but ``spare``; returns how many.

    Each pid is pinned with a pidfd before its uid is checked, so a reused pid is never hit.
    """
    if uid == os.getuid():
        return 0  # not a dedicated uid: never sweep our own
    killed = 0
    for pid in processes_of_uid(uid):
        if pid == spare:
            continue
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            continue
        try:
            if _uid_of(pid) == uid:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                killed += 1
        except OSError:
            pass
        finally:
            os.close(pidfd)
    return killed


# --- commands -------------------------------------------------------------------------------------


@cache
def worker_source() -> str:
    return Path(__file__).with_name("_worker.py").read_text()


def _limits(spec: WorkerSpec, own_uid: bool) -> dict[str, int]:
    limits = {
        "RLIMIT_AS": spec.memory_mb << 20,
        "RLIMIT_CPU": spec.cpu_budget,
        "RLIMIT_FSIZE": spec.disk_mb << 20,
        "RLIMIT_NOFILE": 256,
        "RLIMIT_CORE": 0,
    }
    if not own_uid:
        limits["RLIMIT_NPROC"] = 64  # per uid: only meaningful for a dedicated one
    return limits


def _serve_config(spec: WorkerSpec, uid: int, **paths: list[Any]) -> str:
    return json.dumps(
        {
            "limits": _limits(spec, uid == os.getuid()),
            "timeout": spec.timeout,
            "load_timeout": spec.load_timeout,
            "stdout_cap": spec.stdout_cap,
            "output_limit": spec.output_limit,
            **paths,
        }
    )


def _python_argv(executable: str, mode: str, config: str) -> list[str]:
    return [executable, "-I", "-S", "-B", "-c", worker_source(), mode, config]


def _root_dirs() -> list[str]:
    """Mirror /bin, /lib, /lib64… (symlinks into /usr on merged-/usr systems)."""
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{name}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def bwrap_command(spec: WorkerSpec, uid: int) -> list[str]:
    """The argv starting one worker under bubblewrap (through the root launcher when root)."""
    layout = python_layout()
    as_root = os.geteuid() == 0
    stage = as_root and not all(traversable(path) for path in (layout.prefix, *layout.sites))
    binds: list[list[str]] = []

    def source(path: str, name: str) -> str:
        if not stage:
            return path
        binds.append([path, staging().mount_point(name)])
        return binds[-1][1]

    mounts = ["--ro-bind", "/usr", "/usr", *_root_dirs()]
    mounts += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    if layout.prefix != "/usr" and not layout.prefix.startswith("/usr/"):
        mounts += ["--ro-bind", source(layout.prefix, "python"), layout.prefix]
    sites = [SITE_IN_SANDBOX + (f"-{i}" if i else "") for i in range(len(layout.sites))]
    for i, (host, inside) in enumerate(zip(layout.sites, sites, strict=True)):
        mounts += ["--ro-bind", source(host, f"site{i}"), inside]
    env = [arg for key, value in SANDBOX_ENV.items() for arg in ("--setenv", key, value)]
    config = _serve_config(
        spec, uid, site=sites, read_only=["/usr", "/etc/ld.so.cache", layout.prefix, *sites],
        read_write=["/tmp", *DEVICES],
    )  # fmt: skip
    argv = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all", "--unshare-user", "--disable-userns", "--as-pid-1", "--die-with-parent",
        "--new-session", "--cap-drop", "ALL", "--clearenv", *env, "--hostname", "grader", *mounts,
        "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",
        "--size", str(spec.disk_mb << 20), "--tmpfs", "/tmp", "--remount-ro", "/", "--chdir", "/tmp",
        "--", *_python_argv(layout.executable, "serve", config),
    ]  # fmt: skip
    if not as_root:
        return argv
    return _python_argv(layout.executable, "launch", json.dumps({"binds": binds, "uid": uid, "argv": argv}))


def fallback_command(spec: WorkerSpec, uid: int, tmp: str) -> tuple[list[str], dict[str, str], list[int]]:
    """Without bubblewrap: the worker runs as ``uid`` and confines itself (Landlock + seccomp).

    Directories the uid cannot reach (a Python under /root) are handed over as O_PATH fds
    opened here and used through /proc/self/fd, so nothing else of their parents opens up.
    """
    layout = python_layout()
    fds: list[int] = []

    def reach(path: str) -> str | int:
        if traversable(path):
            return path
        fds.append(os.open(path, os.O_PATH | os.O_DIRECTORY))
        return fds[-1]

    prefix = reach(layout.prefix)
    sites = [reach(site) for site in layout.sites]
    env = {**SANDBOX_ENV, "HOME": tmp, "TMPDIR": tmp}
    executable = layout.executable
    if isinstance(prefix, int):
        executable = f"/proc/self/fd/{prefix}/{os.path.relpath(layout.executable, layout.prefix)}"
        env["LD_LIBRARY_PATH"] = f"/proc/self/fd/{prefix}/lib"
    config = _serve_config(
        spec, uid, site=sites, read_only=["/usr", "/etc/ld.so.cache", prefix, *sites],
        read_write=[tmp, *DEVICES],
    )  # fmt: skip
    return _python_argv(executable, "serve", config), env, fds
