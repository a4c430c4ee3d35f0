"""One sandbox budget for a whole grading runtime: live workers and their memory stay under a cap.

Forty distinct python graders, each filling its /tmp, are graded at once through one runtime
whose budget allows four workers: a sampler reads /proc the whole time and the most it ever
sees (workers, and their resident memory plus what their /tmp holds) stays under the cap,
while every grade returns its true value. Uids are unique across processes (a lock per uid),
and a project waiting for room is served before a flooding project takes more.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pytest

from openrft.config import Settings
from openrft.graders import GraderRuntime, grade_batch_async
from openrft.graders.sandbox._spawn import UID_BASE, UID_SPAN

pytestmark = [pytest.mark.sandbox, pytest.mark.needs("root", "bwrap")]

MEMORY_MB, DISK_MB, WORKERS = 256, 64, 4
CAP_MB = WORKERS * (MEMORY_MB + DISK_MB)

FILLER = """
import os
N = {n}

def grade(sample, item):
    # Fill /tmp (tmpfs: RAM the address-space limit does not see), keep it there, and answer.
    with open(os.path.join("/tmp", "fill-%d" % item["i"]), "wb") as out:
        out.write(b"x" * (item["mb"] << 20))
    return N + item["i"] / 100
"""


@dataclass
class Sample:
    workers: int
    memory_mb: float


def sandbox_usage(ignore: frozenset[int] = frozenset()) -> Sample:
    """Live sandbox workers on this host (one uid each, ``ignore`` aside): their RSS and /tmp use."""
    by_uid: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        uid = int(fields["Uid"].split()[0])
        if UID_BASE <= uid < UID_BASE + UID_SPAN and uid not in ignore:
            rss = int(fields.get("VmRSS", "0 kB").split()[0]) // 1024 if "VmRSS" in fields else 0
            by_uid.setdefault(uid, []).extend([int(name), rss])
    memory, host_tmp = 0.0, os.stat("/tmp").st_dev
    for values in by_uid.values():
        pids, rss = values[0::2], values[1::2]
        memory += sum(rss)
        for pid in pids:  # the worker's own /tmp, seen through its mount namespace
            try:
                if os.stat(f"/proc/{pid}/root/tmp").st_dev == host_tmp:
                    continue  # bwrap's monitor, outside the sandbox's mounts
                stat = os.statvfs(f"/proc/{pid}/root/tmp")
            except OSError:
                continue
            memory += (stat.f_blocks - stat.f_bfree) * stat.f_frsize / (1 << 20)
            break
    return Sample(len(by_uid), memory)


def live_uids() -> frozenset[int]:
    """Sandbox uids that run a process now (other pools of this test process, idle)."""
    return frozenset(
        int(line.split()[1])
        for name in os.listdir("/proc")
        if name.isdigit()
        for line in _status_lines(name)
        if line.startswith("Uid:") and UID_BASE <= int(line.split()[1]) < UID_BASE + UID_SPAN
    )


def _status_lines(pid: str) -> list[str]:
    try:
        with open(f"/proc/{pid}/status") as status:
            return status.readlines()
    except OSError:
        return []


class Sampler:
    """Samples :func:`sandbox_usage` every 20 ms in a thread; keeps the peaks.

    Workers that were already there when it started (idle pools of earlier tests) are left out.
    """

    def __init__(self) -> None:
        self.peak = Sample(0, 0.0)
        self.ignore = live_uids()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = sandbox_usage(self.ignore)
            self.peak = Sample(max(self.peak.workers, now.workers), max(self.peak.memory_mb, now.memory_mb))
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def budget_settings(**extra: object) -> Settings:
    values = {
        "python_grader_workers": 2,
        "python_grader_timeout": 60,
        "python_grader_memory_mb": MEMORY_MB,
        "python_grader_disk_mb": DISK_MB,
        "python_grader_budget_workers": WORKERS,
        "python_grader_budget_mb": CAP_MB,
    }
    return Settings(**{**values, **extra})


@pytest.mark.slow
async def test_forty_sources_filling_tmp_stay_under_the_cap_and_grade_right():
    runtime = GraderRuntime(budget_settings())
    graders = [{"type": "python", "name": f"g{n}", "source": FILLER.format(n=n)} for n in range(40)]
    try:
        with Sampler() as sampler:
            batches = [
                grade_batch_async(g, [("x", {"i": i, "mb": 20}) for i in range(3)], runtime=runtime)
                for g in graders
            ]
            results = await asyncio.gather(*batches)
    finally:
        runtime.close()
    print(
        f"\npeak live sandbox workers {sampler.peak.workers} (cap {WORKERS}), peak memory "
        f"{sampler.peak.memory_mb:.0f} MiB (cap {CAP_MB} MiB: {WORKERS} x ({MEMORY_MB} + {DISK_MB} /tmp))"
    )
    for n, responses in enumerate(results):
        assert [r.reward for r in responses] == pytest.approx([n, n + 0.01, n + 0.02]), responses[0].metadata
    assert 1 <= sampler.peak.workers <= WORKERS
    assert sampler.peak.memory_mb <= CAP_MB
    assert sampler.peak.memory_mb > 40, "the sampler saw no /tmp in use: it measures nothing"


SLEEPER = "import time\n\ndef grade(sample, item):\n    time.sleep(item['s'])\n    return {n}\n"


@pytest.mark.slow
async def test_a_waiting_project_is_served_before_a_flooding_one_takes_more():
    runtime = GraderRuntime(budget_settings(python_grader_budget_workers=2, python_grader_budget_mb=CAP_MB))
    flood, alone = runtime.for_project("flood"), runtime.for_project("alone")
    try:
        # Eight sources of 4 x 1 s from one project: alone, it would hold both workers for 16 s.
        jobs = [
            grade_batch_async(
                {"type": "python", "source": SLEEPER.format(n=n)},
                [("x", {"s": 1.0})] * 4,
                runtime=flood,
            )
            for n in range(8)
        ]
        flooding = asyncio.gather(*jobs)
        await asyncio.sleep(3)  # the flood holds the whole budget by now
        started = time.monotonic()
        [answer] = await grade_batch_async(
            {"type": "python", "source": SLEEPER.format(n=99)},
            [("x", {"s": 0.0})],
            runtime=alone,
        )
        waited = time.monotonic() - started
        flooded = await flooding
    finally:
        runtime.close()
    print(f"\nthe other project's grade came back after {waited:.1f} s while the flood ran")
    assert answer.reward == 99
    assert all(r.reward == n for n, batch in enumerate(flooded) for r in batch)
    # One flood chunk (at most 2 grades of 1 s, the chunk a worker is in) plus a worker's start.
    assert waited < 8, f"waited {waited:.1f} s: the flood was not made to share"


TAKE_UIDS = """
import json, random, sys, time
random.seed(0)  # two processes that drew the same random start (as today's allocator used)
from openrft.graders.sandbox._spawn import uids
taken = [uids.take() for _ in range(20)]
print(json.dumps(taken), flush=True)
sys.stdin.read()  # hold them until the parent is done
"""


def test_two_processes_never_get_the_same_sandbox_uid():
    children = [
        subprocess.Popen(
            [sys.executable, "-c", TAKE_UIDS], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    try:
        taken = [set(json.loads(child.stdout.readline())) for child in children]
    finally:
        for child in children:
            child.communicate("", timeout=30)
    assert len(taken[0]) == len(taken[1]) == 20
    assert not taken[0] & taken[1], f"both processes hold uids {sorted(taken[0] & taken[1])}"


async def test_an_idle_worker_is_evicted_when_the_budget_needs_its_room():
    from openrft.graders.sandbox import PythonGraderPool, SandboxBudget

    budget = SandboxBudget(max_workers=1, max_memory_mb=4096)
    first = PythonGraderPool("def grade(s, i):\n    return 1.0\n", workers=1, idle_seconds=300, budget=budget)
    second = PythonGraderPool(
        "def grade(s, i):\n    return 2.0\n", workers=1, idle_seconds=300, budget=budget
    )
    try:
        assert (await first.grade({}, {})).value == 1.0
        assert first.live_workers == 1 and budget.held()[0] == 1
        started = time.monotonic()
        assert (await second.grade({}, {})).value == 2.0  # first's idle worker made room
        assert time.monotonic() - started < 60 and first.live_workers == 0
        assert budget.peak_workers == 1
    finally:
        first.close()
        second.close()
    assert budget.held() == (0, 0)
