"""Grades that cannot be forged or leak: a hostile python grader against the sandbox's protocol.

The same source is graded for two projects through one runtime (as a server does). One of its
branches writes reply frames of its own on the worker's reply pipe, made as well as an attacker
inside the worker can (the chunk's nonce and the next indexes read off the worker loop's stack,
plus frames of the bare old shape and garbage); another stashes each item it sees in a global
and in /tmp; a third reports what the stash holds. Every later benign grade must return its
true value, and no response to project B may carry anything of project A's items.
"""

from __future__ import annotations

import json

import pytest

from openrft.config import Settings
from openrft.graders import GraderRuntime, RunGraderResponse, grade_batch_async

pytestmark = [pytest.mark.sandbox, pytest.mark.needs("root", "bwrap")]

HOSTILE = r"""
import json, os, struct, sys

STASH = []

def _loop_locals():
    frame = sys._getframe(1)
    while frame is not None:
        if "wfd" in frame.f_locals:
            return frame.f_locals
        frame = frame.f_back
    return {}

def forge(item):
    seen = _loop_locals()
    fd, nonce, index = seen.get("wfd"), seen.get("nonce"), seen.get("index", 0)
    frames = [{"s": "ok", "v": 1.0}]  # the shape replies had before they carried an index
    frames += [{"s": "ok", "v": 1.0, "i": index + k, "n": nonce, "t": 0.0} for k in range(6)]
    frames += [{"s": "error", "d": "leaked: " + json.dumps(item), "i": index + 1, "n": nonce}]
    for frame in frames:
        body = json.dumps(frame).encode()
        os.write(fd, struct.pack(">I", len(body)) + body)
    os.write(fd, b"\x00\x00\x00\x05garbage")
    return 0.0

def grade(sample, item):
    attack = item.get("attack")
    if attack == "forge":
        return forge(item)
    if attack == "stash":
        STASH.append(item)
        with open("/tmp/stash", "a") as out:
            out.write(json.dumps(item) + "\n")
        return 0.5
    if attack == "peek":
        found = list(STASH)
        if os.path.exists("/tmp/stash"):
            found += open("/tmp/stash").read().splitlines()
        if found:
            raise RuntimeError("saw: " + json.dumps(found, default=str))
        return 0.25
    return 0.75
"""
GRADER = {"type": "python", "name": "hostile", "source": HOSTILE}


def _text(responses: list[RunGraderResponse]) -> str:
    return json.dumps([r.model_dump(mode="json") for r in responses])


@pytest.fixture
def runtime():
    opened = GraderRuntime(Settings(python_grader_workers=2, python_grader_timeout=20))
    yield opened
    opened.close()


async def test_forged_frames_spoil_no_later_grade_and_no_other_projects(runtime):
    a, b = runtime.for_project("team-a"), runtime.for_project("team-b")
    secret = {"secret": "A-ONLY-7f3a"}
    benign = [("x", {"n": i}) for i in range(6)]
    # A: a request whose first item forges frames, then its benign neighbours.
    attacked = await grade_batch_async(GRADER, [("x", {"attack": "forge", **secret}), *benign], runtime=a)
    # Then, many times over: B's benign grades and A's, each a request of its own.
    later: list[RunGraderResponse] = []
    seen_by_b: list[RunGraderResponse] = []
    for _ in range(5):
        seen_by_b += await grade_batch_async(GRADER, benign, runtime=b)
        later += await grade_batch_async(GRADER, benign, runtime=a)
        later += await grade_batch_async(GRADER, [("x", {"attack": "forge", **secret})], runtime=a)
        seen_by_b += await grade_batch_async(GRADER, benign[:1], runtime=b)
    assert [r.reward for r in seen_by_b] == [0.75] * len(seen_by_b)
    assert [r.reward for r in later if r.reward != 0.0] == [0.75] * 30  # every benign grade of A too
    assert "A-ONLY-7f3a" not in _text(seen_by_b)
    assert attacked[0].reward == 0.0  # the forger gets nothing for itself


async def test_what_a_grader_keeps_stays_in_its_project():
    # One worker per pool, so that A's later grade lands where its earlier ones did.
    runtime = GraderRuntime(Settings(python_grader_workers=1, python_grader_timeout=20))
    try:
        await _stash_and_peek(runtime)
    finally:
        runtime.close()


async def _stash_and_peek(runtime: GraderRuntime) -> None:
    a, b = runtime.for_project("team-a"), runtime.for_project("team-b")
    stashed = await grade_batch_async(
        GRADER, [("x", {"attack": "stash", "secret": "A-ONLY-9c1e"})] * 4, runtime=a
    )
    assert [r.reward for r in stashed] == [0.5] * 4
    peeked = await grade_batch_async(GRADER, [("x", {"attack": "peek"})] * 4, runtime=b)
    assert [r.reward for r in peeked] == [0.25] * 4, _text(peeked)
    assert "A-ONLY-9c1e" not in _text(peeked)
    # Within one project a grader's globals and /tmp persist (documented): A's own peek sees them.
    own = await grade_batch_async(GRADER, [("x", {"attack": "peek"})], runtime=a)
    assert own[0].reward == 0.0 and "A-ONLY-9c1e" in _text(own)


NONCE_READER = r"""
import sys

def grade(sample, item):
    frame = sys._getframe(1)
    while frame is not None and "nonce" not in frame.f_locals:
        frame = frame.f_back
    return int(frame.f_locals["nonce"][:8], 16)  # which chunk this grade came in
"""


async def test_a_chunk_never_mixes_two_requests():
    from openrft.graders.sandbox import PythonGraderPool

    with PythonGraderPool(NONCE_READER, workers=1, timeout=10) as pool:
        first, second = pool.submit([({}, {})] * 8), pool.submit([({}, {})] * 8)
        chunks = [{r.value for r in future.result(timeout=60)} for future in (first, second)]
    assert all(r for r in chunks) and not chunks[0] & chunks[1]
