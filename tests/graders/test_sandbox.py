"""Hostile python graders against the sandbox pool, in both isolation modes.

Each attack is one grade of a shared hostile source (``item["attack"]`` picks it): it must
score 0 with the right error kind, the pool must grade normally right after, and no
process may outlive the grade (checked by scanning /proc for the pool's uids).
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import socket
import sysconfig
import threading
import time
from pathlib import Path

import pytest

import openrft
from openrft.graders.sandbox import PythonGraderPool, SandboxResult
from openrft.graders.sandbox import _process as sandbox_process
from openrft.graders.sandbox._spawn import processes_of_uid
from tests.services import require

pytestmark = [pytest.mark.sandbox, pytest.mark.needs("root")]

PROJECT_FILE = Path(openrft.__file__).resolve().parents[2] / "pyproject.toml"
MARKER = Path("/tmp/openrft-sandbox-test-marker")

HOSTILE = r"""
import ctypes, glob, math, os, signal, socket, subprocess, sys, threading, time

def read_through_pth():
    pths = [p for d in sys.path for p in glob.glob(os.path.join(d, "__editable__*.pth"))]
    if not pths:
        raise LookupError("no editable .pth in the sandbox's site-packages")
    target = open(pths[0]).read().split()[0]
    return open(os.path.join(target, "openrft", "__init__.py")).read()

def attack(name, item):
    if name == "loop":
        while True:
            pass
    if name == "loop_ignoring_alarm":
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
        while True:
            pass
    if name == "sleep":
        time.sleep(60)
    if name == "memory":
        hoard = []
        while True:
            hoard.append(bytearray(10**7))
    if name == "fork_bomb":
        while True:
            os.fork()
    if name == "setsid_child":
        if os.fork() == 0:
            os.setsid()
            time.sleep(3)
            open(item["marker"], "w").write("escaped")
            os._exit(0)
    if name == "read":
        return open(item["path"]).read()
    if name == "read_via_pth":
        return read_through_pth()
    if name == "connect":
        socket.create_connection(("127.0.0.1", item["port"]), timeout=1)
    if name == "os_system":
        status = os.system("touch " + item["marker"])
        raise RuntimeError(f"os.system returned {status}")
    if name == "subprocess":
        subprocess.run(["touch", item["marker"]], check=True)
    if name == "big_file":
        with open(os.path.join(os.environ["TMPDIR"], "big"), "wb") as f:
            for _ in range(2048):
                f.write(b"x" * (1 << 20))
    if name == "print":
        for _ in range(100):
            print("x" * (1 << 20))
    if name == "forge_reply":
        for fd in range(3, 64):
            try:
                os.write(fd, b"\xff\xff\xff\xff")
            except OSError:
                pass
        return 0.0
    if name == "exit":
        os._exit(3)
    if name == "segfault":
        ctypes.string_at(0)
    if name == "leftover_thread":
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        return 0.0
    if name == "threads":
        for _ in range(300):
            threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
    if name == "returns":
        return {"nan": math.nan, "inf": -math.inf, "str": "abc", "none": None, "bool": True,
                "huge": 10**400}[item["value"]]
    return 1.0

def grade(sample, item):
    if "attack" in item:
        return attack(item["attack"], item)
    return 0.75
"""


@pytest.fixture(scope="module", params=["bwrap", "fallback"])
def pool(request):
    if request.param == "bwrap":
        require("bwrap")
    with PythonGraderPool(
        HOSTILE, workers=1, timeout=2, memory_mb=768, disk_mb=64, isolation=request.param
    ) as p:
        assert p.check() is None
        yield p
    assert all(processes_of_uid(uid) == [] for uid in p.uids), "a sandbox process outlived pool.close()"


def per_worker(pool: PythonGraderPool) -> int:
    return 2 if pool.isolation == "bwrap" else 1  # bwrap monitor + python (its pid 1)


async def attack(pool: PythonGraderPool, name: str, **item) -> SandboxResult:
    """Run one attack, then prove the pool still serves and nothing but workers is left."""
    result = await pool.grade({"output_text": "x"}, {"attack": name, **item})
    assert result.value == 0.0
    follow_up = await pool.grade({"output_text": "x"}, {})
    assert (follow_up.status, follow_up.value) == ("ok", 0.75)
    for uid in pool.uids:
        assert len(processes_of_uid(uid)) <= per_worker(pool), f"leftover process after {name}"
    return result


@pytest.mark.parametrize("name", ["loop", "loop_ignoring_alarm", "sleep"])
async def test_runaway_grades_time_out(pool, name):
    result = await attack(pool, name)
    assert result.status == "timeout"


async def test_memory_bomb_hits_the_memory_limit(pool):
    # Its own pool with a 60 s time limit: on a loaded machine filling 768 MB can outlast 2 s,
    # and the limit that must stop it is the memory one.
    with PythonGraderPool(
        HOSTILE, workers=1, timeout=60, memory_mb=768, disk_mb=64, isolation=pool.isolation
    ) as patient:
        assert (await attack(patient, "memory")).status == "memory"


@pytest.mark.parametrize("name", ["fork_bomb", "subprocess"])
async def test_no_new_processes(pool, name):
    result = await attack(pool, name, marker=str(MARKER))
    assert result.status == "error"
    assert "PermissionError" in (result.detail or "")
    assert not MARKER.exists()


async def test_os_system_runs_nothing(pool):
    result = await attack(pool, "os_system", marker=str(MARKER))
    assert result.status == "error" and "os.system returned 32512" in (result.detail or "")  # exit 127
    assert not MARKER.exists()


async def test_setsid_child_cannot_outlive_the_grade(pool):
    result = await attack(pool, "setsid_child", marker=str(MARKER))
    assert result.status == "error" and "PermissionError" in (result.detail or "")  # fork denied
    assert not MARKER.exists()


@pytest.mark.parametrize("path", ["/etc/passwd", str(PROJECT_FILE), "/root/.bashrc", "/proc/1/environ"])
async def test_host_files_are_out_of_reach(pool, path):
    result = await attack(pool, "read", path=path)
    assert result.status == "error"
    assert "FileNotFoundError" in (result.detail or "") or "PermissionError" in (result.detail or "")


async def test_project_is_unreachable_through_the_editable_pth(pool):
    host_pths = glob.glob(os.path.join(sysconfig.get_paths()["purelib"], "__editable__*.pth"))
    result = await attack(pool, "read_via_pth")
    assert result.status == "error"
    if host_pths:  # the .pth itself is readable; the project directory it names is not
        assert "FileNotFoundError" in (result.detail or "") or "PermissionError" in (result.detail or "")


async def test_no_network(pool):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        result = await attack(pool, "connect", port=listener.getsockname()[1])
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing connected
    assert result.status == "error"


async def test_big_file_is_capped_and_stays_inside(pool):
    result = await attack(pool, "big_file")
    assert result.status == "error"
    assert "File too large" in (result.detail or "") or "No space left" in (result.detail or "")
    assert not Path("/tmp/big").exists()


async def test_printing_100_mb_hits_the_output_limit(pool):
    result = await attack(pool, "print")
    assert result.status == "output_limit"
    assert 0 < len(result.stdout) <= 4096


async def test_a_forged_reply_frame_is_capped(pool):
    assert (await attack(pool, "forge_reply")).status == "output_limit"


@pytest.mark.parametrize("name", ["exit", "segfault"])
async def test_dying_worker_is_replaced(pool, name):
    assert (await attack(pool, name)).status == "worker_died"


async def test_thread_bomb_is_capped(pool):
    result = await attack(pool, "threads")
    assert result.status == "error" and "can't start new thread" in (result.detail or "")


async def test_a_thread_left_running_recycles_the_worker(pool):
    respawns = pool.respawns
    assert (await attack(pool, "leftover_thread")).status == "ok"
    assert pool.respawns == respawns + 1


@pytest.mark.parametrize(
    ("value", "shown"),
    [("nan", "nan (float)"), ("inf", "-inf (float)"), ("str", "'abc' (str)"), ("none", "None (NoneType)"),
     ("bool", "True (bool)"), ("huge", "(int)")],
)  # fmt: skip
async def test_invalid_return_values(pool, value, shown):
    result = await attack(pool, "returns", value=value)
    assert result.status == "invalid"
    assert shown in (result.detail or "") and "expected a finite number" in (result.detail or "")


async def test_only_the_offending_grade_of_a_chunk_fails(pool):
    pairs = [({"output_text": "x"}, {}) for _ in range(9)]
    pairs.insert(3, ({"output_text": "x"}, {"attack": "exit"}))
    pairs.insert(7, ({"output_text": "x"}, {"attack": "loop"}))
    results = await pool.grade_many(pairs)
    assert [r.status for r in results] == ["ok"] * 3 + ["worker_died"] + ["ok"] * 3 + ["timeout"] + ["ok"] * 3
    assert [r.value for r in results if r.status == "ok"] == [0.75] * 9


async def test_idle_workers_are_given_back_and_restarted_on_demand():
    source = "def grade(sample, item):\n    return 0.5\n"
    # Idle for 3 s: long enough to see the worker alive right after a grade on a loaded machine.
    with PythonGraderPool(source, workers=1, timeout=2, idle_seconds=3) as pool:
        assert (await pool.grade({}, {})).value == 0.5
        thread = f"grader-sandbox-{id(pool):x}-0"
        assert processes_of_uid(pool.uids[0]) and thread in {t.name for t in threading.enumerate()}
        deadline = time.monotonic() + 60
        while processes_of_uid(pool.uids[0]) or thread in {t.name for t in threading.enumerate()}:
            assert time.monotonic() < deadline, "the idle worker was not given back within 60 s"
            await asyncio.sleep(0.1)
        assert (await pool.grade({}, {})).value == 0.5


def test_without_bubblewrap_the_fallback_is_chosen_and_logged(monkeypatch, caplog):
    monkeypatch.setattr(sandbox_process.shutil, "which", lambda name: None)
    with caplog.at_level(logging.WARNING, logger="openrft.graders.sandbox"):
        assert sandbox_process._probe() == "fallback"
    assert "bubblewrap is unavailable (bwrap is not installed)" in caplog.text
