"""The code that runs inside a python-grader sandbox worker (and its root launcher).

This file is executed with ``python -I -S -B -c <this file's text> <mode> <json config>``;
it sees nothing of the project and must import nothing but the standard library (never
``openrft``). Two modes:

``launch`` (as root, outside the sandbox)
    Makes the Python install and site-packages reachable for an unprivileged uid without
    exposing anything else: in a private mount namespace it bind-mounts them read-only onto
    empty staging directories, then drops to the worker's uid and execs bubblewrap.
``serve`` (inside the sandbox)
    Moves the protocol pipes off fds 0/1, points 0/1/2 at /dev/null, sets rlimits, applies
    Landlock and seccomp, loads the grader source (a ``SyntaxError`` or a missing/ill-shaped
    ``grade`` is reported here) and then answers grading requests.

Protocol: frames of a 4-byte big-endian length and a JSON payload. The parent sends the
source first (``{"source": ...}``), then chunks ``{"n": NONCE, "p": [[sample, item], ...]}``
(one request's pairs, a fresh random nonce each); the worker answers ``{"s": "ready"}`` or
``{"s": "load_error", ...}`` once, then one result frame per pair, as each grade finishes, each
carrying the pair's index in the chunk (``"i"``) and the chunk's nonce (``"n"``), so the parent
always knows which grade is running and refuses any frame that is not the one it expects.
"""

from __future__ import annotations

import ctypes
import io
import json
import linecache
import math
import numbers
import os
import reprlib
import resource
import signal
import stat
import struct
import sys
import time
import traceback
import types
from typing import Any

HEADER = struct.Struct(">I")
MAX_REQUEST = 1 << 30
DETAIL_CAP = 8000
SOURCE_NAME = "grader.py"


# --- framing --------------------------------------------------------------------------------


def _read_exact(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> Any:
    (size,) = HEADER.unpack(_read_exact(fd, HEADER.size))
    if size > MAX_REQUEST:
        raise EOFError
    return json.loads(_read_exact(fd, size))


def write_frame(fd: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8", "replace")
    view = memoryview(HEADER.pack(len(body)) + body)
    while view:
        view = view[os.write(fd, view) :]


# --- launch: root, outside the sandbox ------------------------------------------------------


def launch(cfg: dict[str, Any]) -> None:
    """Stage read-only binds in a private mount namespace, drop to ``uid``, exec ``argv``."""
    libc = ctypes.CDLL(None, use_errno=True)
    ms_rdonly, ms_nosuid, ms_nodev, ms_remount, ms_bind, ms_rec, ms_private = (
        1, 2, 4, 32, 4096, 16384, 1 << 18,
    )  # fmt: skip

    def check(result: int, what: str) -> None:
        if result != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"sandbox launcher: {what}: {os.strerror(err)}")

    if cfg["binds"]:
        check(libc.unshare(0x00020000), "unshare(CLONE_NEWNS)")
        check(libc.mount(b"none", b"/", None, ms_rec | ms_private, None), "make / private")
        for src, dst in cfg["binds"]:
            check(libc.mount(src.encode(), dst.encode(), None, ms_bind | ms_rec, None), f"bind {src}")
            flags = ms_remount | ms_bind | ms_rdonly | ms_nosuid | ms_nodev
            check(libc.mount(b"none", dst.encode(), None, flags, None), f"read-only {dst}")
    uid = cfg["uid"]
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    os.execv(cfg["argv"][0], cfg["argv"])


# --- confinement: inside the sandbox, before any grader code runs ---------------------------


def set_limits(limits: dict[str, int]) -> None:
    """Soft = hard, so grader code cannot raise them again."""
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value, value))


def _syscall(*args: Any) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return int(libc.syscall(*args))


def apply_landlock(read_only: list[str | int], read_write: list[str | int]) -> int:
    """Restrict file access to the given trees and deny TCP and cross-domain signals.

    Entries are paths or already-open fds. Returns the Landlock ABI used (0 = unsupported).
    """
    abi = _syscall(444, None, 0, 1)  # landlock_create_ruleset(NULL, 0, VERSION)
    if abi < 1:
        return 0
    fs_rights = (1 << {1: 13, 2: 14, 3: 15, 4: 15}.get(abi, 16)) - 1  # +REFER, +TRUNCATE, +IOCTL_DEV
    attr = struct.pack("QQQ", fs_rights, 3 if abi >= 4 else 0, 3 if abi >= 6 else 0)
    attr = attr[: 8 if abi < 4 else 16 if abi < 6 else 24]
    ruleset = _syscall(444, attr, len(attr), 0)
    if ruleset < 0:
        return 0
    file_only = 1 | 2 | 4 | (1 << 14) | (1 << 15)  # execute, write, read, truncate, ioctl_dev
    read = 1 | 4 | 8  # execute, read file, read dir
    try:
        for entries, rights in ((read_only, read), (read_write, fs_rights)):
            for entry in entries:
                _add_landlock_rule(ruleset, entry, rights & fs_rights, file_only)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(38, 1, 0, 0, 0) != 0 or _syscall(446, ruleset, 0) != 0:  # no_new_privs; restrict
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return abi


def _add_landlock_rule(ruleset: int, entry: str | int, rights: int, file_only: int) -> None:
    try:
        fd = entry if isinstance(entry, int) else os.open(entry, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # absent on this system: nothing to allow
    if not stat.S_ISDIR(os.fstat(fd).st_mode):
        rights &= file_only
    rule = struct.pack("=Qi", rights, fd)  # struct landlock_path_beneath_attr (packed)
    if _syscall(445, ruleset, 1, rule, 0) != 0:  # LANDLOCK_RULE_PATH_BENEATH
        raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {entry!r}")
    if not isinstance(entry, int):
        os.close(fd)


# (audit arch, syscalls answered EPERM, clone, clone3) per architecture.
_SECCOMP_ARCH = {
    "x86_64": (
        0xC000003E,
        # socket socketpair fork vfork execve execveat ptrace process_vm_readv/writev mount umount2
        # pivot_root chroot unshare setns bpf perf_event_open keyctl add_key request_key userfaultfd
        # io_uring_* kexec_* *_module reboot swapon/off acct quotactl syslog iopl ioperm personality
        # open_tree move_mount fs* mount_setattr name_to_handle_at open_by_handle_at kcmp pidfd_getfd
        (41, 53, 57, 58, 59, 322, 101, 310, 311, 165, 166, 155, 161, 272, 308, 321, 298, 250, 248, 249,
         323, 425, 426, 427, 246, 320, 175, 313, 176, 169, 167, 168, 163, 179, 103, 172, 173, 135,
         428, 429, 430, 431, 432, 433, 442, 303, 304, 312, 438),
        56,
        435,
    ),
    "aarch64": (
        0xC00000B7,
        (198, 199, 221, 281, 117, 270, 271, 40, 39, 41, 51, 97, 268, 280, 241, 219, 217, 218, 282,
         425, 426, 427, 104, 294, 105, 273, 106, 142, 224, 225, 89, 60, 116, 92,
         428, 429, 430, 431, 432, 433, 442, 264, 265, 272, 438),
        220,
        435,
    ),
}  # fmt: skip


def apply_seccomp() -> bool:
    """Deny new processes, exec, sockets and kernel-level tools; threads stay allowed.

    ``clone`` passes only with ``CLONE_THREAD``; ``clone3`` answers ENOSYS so libc falls
    back to ``clone``. Returns False on an architecture without a table.
    """
    table = _SECCOMP_ARCH.get(os.uname().machine)
    if table is None:
        return False
    arch, denied, clone_nr, clone3_nr = table
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, kill, eperm, enosys = 0x7FFF0000, 0x80000000, 0x00050000 | 1, 0x00050000 | 38
    prog = [
        (ld, 0, 0, 4), (jeq, 1, 0, arch), (ret, 0, 0, kill),  # foreign ABI (int 0x80): kill
        (ld, 0, 0, 0), (jge, 0, 1, 0x40000000), (ret, 0, 0, eperm),  # x32 syscalls
        (jeq, 0, 1, clone3_nr), (ret, 0, 0, enosys),
        (jeq, 0, 4, clone_nr), (ld, 0, 0, 16), (jset, 0, 1, 0x00010000),  # clone: CLONE_THREAD?
        (ret, 0, 0, allow), (ret, 0, 0, eperm),
    ]  # fmt: skip
    for nr in denied:
        prog += [(jeq, 0, 1, nr), (ret, 0, 0, eperm)]
    prog.append((ret, 0, 0, allow))
    filters = b"".join(struct.pack("HBBI", *ins) for ins in prog)
    buf = ctypes.create_string_buffer(filters)
    fprog = struct.pack("HP", len(prog), ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, fprog, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter refused")
    return True


# --- grading ---------------------------------------------------------------------------------


class SoftTimeout(BaseException):
    """Raised into grader code by SIGALRM; a BaseException so ``except Exception`` misses it."""


class OutputLimit(BaseException):
    """Raised when a grade prints more than the output limit."""


class CappedOutput(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` for grader code: keeps the first ``keep`` characters."""

    def __init__(self, keep: int, limit: int):
        self.keep, self.limit = keep, limit
        self.parts: list[str] = []
        self.kept = self.total = 0

    def reset(self) -> None:
        self.parts, self.kept, self.total = [], 0, 0

    encoding = "utf-8"
    errors = "strict"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        self.total += len(text)
        if self.kept < self.keep:
            piece = text[: self.keep - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)
        if self.total > self.limit:
            raise OutputLimit
        return len(text)

    def value(self) -> str:
        return "".join(self.parts)


def _cut(text: str, cap: int = DETAIL_CAP) -> str:
    """Keep the head and the (more telling) tail of a long text."""
    if len(text) <= cap:
        return text
    head = cap // 4
    return f"{text[:head]}\n... ({len(text) - cap} characters cut) ...\n{text[len(text) - (cap - head) :]}"


def _format_exception(exc: BaseException, skip: int) -> str:
    tb = exc.__traceback__
    for _ in range(skip):
        tb = tb.tb_next if tb is not None else None
    try:
        return _cut("".join(traceback.format_exception(type(exc), exc, tb)))
    except Exception:  # a hostile __str__; the type name still helps
        return f"{type(exc).__name__} (unprintable)"


def _arity_problem(func: Any) -> str | None:
    import inspect

    if not callable(func):
        return f"grade must be a function, not {type(func).__name__}"
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None  # a builtin or C callable: accept it
    try:
        signature.bind(None, None)
    except TypeError:
        return f"grade must take exactly two positional arguments (sample, item); it is grade{signature}"
    return None


def load(source: str, timeout: float) -> tuple[Any, dict[str, Any]]:
    """Execute the source as module ``grader`` and find ``grade``; (grade, reply)."""
    linecache.cache[SOURCE_NAME] = (len(source), None, source.splitlines(True), SOURCE_NAME)
    module = types.ModuleType("grader")  # a real, importable module: pydantic and dataclasses
    module.__file__ = SOURCE_NAME  # resolve annotations through sys.modules[cls.__module__]
    sys.modules["grader"] = module
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        code = compile(source, SOURCE_NAME, "exec")
        exec(code, module.__dict__)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        return None, {"s": "load_error", "d": f"syntax error at {where}: {exc.msg}"}
    except SoftTimeout:
        return None, {"s": "load_error", "d": f"loading the source took longer than {timeout:g} s"}
    except BaseException as exc:
        first = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return None, {"s": "load_error", "d": f"loading the source raised {_cut(first, 500)}",
                      "tb": _format_exception(exc, 1)}  # fmt: skip
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if not hasattr(module, "grade"):
        return None, {"s": "load_error", "d": "the source defines no grade(sample, item) function"}
    problem = _arity_problem(module.grade)
    if problem:
        return None, {"s": "load_error", "d": problem}
    return module.grade, {"s": "ready"}


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 60


def describe(value: Any) -> dict[str, Any]:
    """The result frame for a returned value: a finite real number, or why it is not one."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            number = float(value)
        except (OverflowError, ValueError, TypeError):
            number = math.nan
        if math.isfinite(number):
            return {"s": "ok", "v": number}
    try:
        shown = _REPR.repr(value)
    except Exception:
        shown = "<unprintable>"
    return {"s": "invalid", "d": f"grade returned {shown} ({type(value).__name__}); expected a finite number"}


_alarm = {"fired": False}


def _on_alarm(signum: int, frame: Any) -> None:
    _alarm["fired"] = True
    raise SoftTimeout


def grade_one(grade: Any, sample: Any, item: Any, out: CappedOutput, timeout: float) -> dict[str, Any]:
    """Run one grade under the soft timeout and classify its outcome.

    A soft timeout or an output overflow that the grader swallowed still counts.
    """
    out.reset()
    _alarm["fired"] = False
    started = time.perf_counter()
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            reply = describe(grade(sample, item))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except SoftTimeout:
        reply = {}
    except OutputLimit:
        reply = {}
    except MemoryError:
        reply = {"s": "memory", "d": "MemoryError: the worker's memory limit was reached"}
    except BaseException as exc:
        reply = {"s": "error", "d": _format_exception(exc, 1)}
    if _alarm["fired"]:
        reply = {"s": "timeout", "d": f"grade took longer than {timeout:g} s"}
    elif out.total > out.limit:
        reply = {"s": "output_limit", "d": f"grade printed more than {out.limit} characters"}
    reply["t"] = time.perf_counter() - started
    if out.kept:
        reply["o"] = out.value()
    return reply


def _confine(cfg: dict[str, Any]) -> dict[str, Any]:
    """rlimits, then Landlock, then seccomp; reports what took effect."""
    set_limits(cfg["limits"])
    for path in cfg["site"]:
        sys.path.append(path if isinstance(path, str) else f"/proc/self/fd/{path}")
    landlock = apply_landlock(cfg["read_only"], cfg["read_write"])
    return {"s": "started", "landlock": landlock, "seccomp": apply_seccomp()}


def serve(cfg: dict[str, Any]) -> None:
    """The worker's main loop; returns when the parent closes the pipe."""
    rfd, wfd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    out = CappedOutput(cfg["stdout_cap"], cfg["output_limit"])
    sys.stdout = sys.stderr = out
    signal.signal(signal.SIGALRM, _on_alarm)
    tasks = os.open("/proc/self/task", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    write_frame(wfd, _confine(cfg))
    grade, reply = load(read_frame(rfd)["source"], cfg["load_timeout"])
    threads = os.fstat(tasks).st_nlink
    write_frame(wfd, reply)
    while grade is not None:
        try:
            chunk = read_frame(rfd)
        except EOFError:
            return
        nonce, pairs = chunk["n"], chunk["p"]
        for index, (sample, item) in enumerate(pairs):
            reply = grade_one(grade, sample, item, out, cfg["timeout"])
            extra = os.fstat(tasks).st_nlink - threads
            if extra > 0:
                reply["threads"] = extra  # a thread outlived its grade: the parent recycles us
            if index == len(pairs) - 1:
                reply["cpu"] = time.process_time()
            reply["i"], reply["n"] = index, nonce
            write_frame(wfd, reply)


def main(argv: list[str]) -> None:
    mode, cfg = argv[0], json.loads(argv[1])
    if mode == "launch":
        launch(cfg)
    else:
        serve(cfg)


if __name__ == "__main__":
    main(sys.argv[1:])
