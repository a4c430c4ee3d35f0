"""The server's limits and hardening: each was a finding of the security review, each answers
with a clear status and OpenAI's envelope instead of a 500, a hang or a silent success.

Body size and nesting, eval names and metadata, a 5,000-term formula, an upload over the row
limit, security headers, ``/docs``, the ``Host`` header, the orphan-upload sweep, a full disk,
``--no-auth``, and ``publish()`` of a checkpoint folder interrupted half-way.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openrft.config import Settings
from tests.server.conftest import API_KEY, Running, rft_rows, run_server

H = {"Authorization": f"Bearer {API_KEY}"}
CHECK = {
    "type": "string_check",
    "name": "s",
    "input": "{{sample.output_text}}",
    "reference": "a",
    "operation": "eq",
}
EVAL = {"data_source_config": {"type": "custom", "item_schema": {}}, "testing_criteria": [CHECK]}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with run_server(
        tmp_path_factory.mktemp("limits"), max_request_bytes=1024 * 1024, upload_sweep_seconds=0.5
    ) as server:
        yield server


@pytest.fixture
def http(running: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url, headers=H, timeout=60) as client:
        yield client


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_a_json_body_over_the_limit_is_413_before_it_is_parsed(http: httpx.Client) -> None:
    big = {"grader": CHECK, "model_sample": "x" * (2 * 1024 * 1024), "item": {}}
    error = _error(http.post("/v1/fine_tuning/alpha/graders/run", json=big), 413)
    assert "1,048,576 bytes" in error["message"] and "OPENRFT_MAX_REQUEST_BYTES" in error["message"]
    chunked = http.post(  # no Content-Length: counted as it streams
        "/v1/evals",
        content=iter([b'{"name": "', b"x" * (2 * 1024 * 1024), b'"}']),
        headers={"content-type": "application/json"},
    )
    assert chunked.status_code == 413


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**EVAL, "name": "n" * 257}, "name"),
        ({**EVAL, "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({**EVAL, "metadata": {"k": "v" * 513}}, "metadata.k"),
        ({**EVAL, "metadata": {"k" * 65: "v"}}, "metadata"),
    ],
)
def test_eval_names_and_metadata_are_bounded(http: httpx.Client, body: dict[str, Any], param: str) -> None:
    assert _error(http.post("/v1/evals", json=body), 400)["param"].startswith(param)
    created = http.post("/v1/evals", json=EVAL).json()["id"]
    assert _error(
        http.post(f"/v1/evals/{created}", json={k: v for k, v in body.items() if k in ("name", "metadata")}),
        400,
    )["param"].startswith(param)


@pytest.mark.parametrize("depth", [100, 1000, 100_000])
def test_deeply_nested_json_is_a_400(http: httpx.Client, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    body = f'{{"grader": {json.dumps(CHECK)}, "model_sample": "x", "item": {{"a": {nested}}}}}'
    response = http.post(
        "/v1/fine_tuning/alpha/graders/run", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"]
    schema = "{" + '"a": {' * depth + "}" * depth + "}"
    config = f'{{"type": "custom", "item_schema": {schema}}}'
    body = f'{{"data_source_config": {config}, "testing_criteria": [{json.dumps(CHECK)}]}}'
    assert (
        http.post("/v1/evals", content=body, headers={"content-type": "application/json"}).status_code == 400
    )


def test_a_5000_term_formula_is_a_400(http: httpx.Client) -> None:
    grader = {
        "type": "multi",
        "name": "m",
        "graders": {"a": CHECK},
        "calculate_output": "+".join(["a"] * 5000),
    }
    error = _error(http.post("/v1/fine_tuning/alpha/graders/validate", json={"grader": grader}), 400)
    assert "calculate_output" in error["message"] and "nests" in error["message"]


def test_an_upload_over_the_row_limit_is_refused_before_it_is_parsed(
    http: httpx.Client, running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openrft.server.api._services import files

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the upload was parsed")

    monkeypatch.setattr(files, "check_content", never)
    monkeypatch.setattr(running.app.state.openrft.files, "settings", Settings(max_train_rows=50))
    before = set((running.data_dir / "files").iterdir())
    upload = {"file": ("t.jsonl", rft_rows(200), "application/jsonl")}
    error = _error(http.post("/v1/files", files=upload, data={"purpose": "fine-tune"}), 400)
    assert "more than 50 rows" in error["message"]
    assert set((running.data_dir / "files").iterdir()) == before, "the refused bytes stayed on disk"


def test_every_response_carries_csp_and_frame_headers(http: httpx.Client) -> None:
    for path in ("/", "/v1/models", "/static/app.js"):
        response = http.get(path)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_docs_are_off_unless_asked_for(http: httpx.Client, tmp_path: Path) -> None:
    assert http.get("/docs").status_code == 404
    assert http.get("/openapi.json").status_code == 200
    with run_server(tmp_path, api_docs=True) as server:
        assert httpx.get(f"{server.url}/docs").status_code == 200


def test_only_trusted_hosts_are_answered(running: Running, tmp_path: Path) -> None:
    # DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 sends its own Host.
    for host, status in (
        ("evil.example", 400),
        ("evil.example:8000", 400),
        ("localhost", 200),
        ("127.0.0.1", 200),
    ):
        response = httpx.get(f"{running.url}/v1/models", headers={**H, "Host": host})
        assert response.status_code == status, host
    with run_server(tmp_path, allowed_hosts=["openrft.internal"]) as server:
        assert (
            httpx.get(f"{server.url}/v1/models", headers={**H, "Host": "openrft.internal"}).status_code == 200
        )


def test_orphan_uploads_are_swept_on_a_timer_but_held_uploads_are_not(running: Running) -> None:
    root = running.data_dir / "files"
    old = time.time() - 120
    orphans = [root / "file-orphanorphanorphan00", root / ".upload-deadbeef00000000"]
    for path in orphans:
        path.write_bytes(b"left by a killed upload")
        os.utime(path, (old, old))
    held = root / ".upload-inprogress000000"
    held.write_bytes(b"being validated by another process")
    os.utime(held, (old, old))
    fd = os.open(held, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        deadline = time.monotonic() + 20
        while any(p.exists() for p in orphans):
            assert time.monotonic() < deadline, "the timer did not sweep the orphans"
            time.sleep(0.1)
        time.sleep(1.0)  # another sweep or two
        assert held.exists(), "an upload still held by its writer was removed"
    finally:
        os.close(fd)
        held.unlink()


def test_a_full_disk_is_a_507(http: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from openrft.store import _files

    real_write = os.write

    def full(fd: int, data: Any) -> int:
        if len(data) > 100:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(_files.os, "write", full)
    upload = {"file": ("t.jsonl", rft_rows(4), "application/jsonl")}
    error = _error(http.post("/v1/files", files=upload, data={"purpose": "fine-tune"}), 507)
    assert error["code"] == "disk_full" and "disk is full" in error["message"]


def test_a_full_database_is_a_507(
    http: httpx.Client, running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    def full(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    monkeypatch.setattr(running.store, "add", full)
    assert _error(http.post("/v1/evals", json=EVAL), 507)["code"] == "disk_full"


def test_no_auth_is_the_default_project(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from openrft.server import ServerSettings, create_app

    app = create_app(ServerSettings(data_dir=tmp_path, no_auth=True))
    with TestClient(app, base_url="http://localhost") as client:
        me = client.get("/v1/openrft/me").json()
    assert (me["project"], me["admin"]) == ("default", False)


def test_publish_never_leaves_the_checkpoint_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kill between the steps of replacing a checkpoint folder (simulated: the next rename fails)."""
    from openrft.training import _checkpoints

    target = tmp_path / "checkpoint-4"
    target.mkdir()
    (target / "weights").write_text("old")
    staging = tmp_path / ".staging-4"
    staging.mkdir()
    (staging / "weights").write_text("new")
    calls = []
    real_replace = os.replace

    def killed_after_first(src: Any, dst: Any) -> None:
        calls.append((src, dst))
        if len(calls) > 1:
            raise KeyboardInterrupt("killed")
        real_replace(src, dst)

    monkeypatch.setattr(_checkpoints.os, "replace", killed_after_first)
    with contextlib.suppress(KeyboardInterrupt):
        _checkpoints.publish(staging, target)
    _checkpoints.clean_staging(tmp_path)  # what a restarted job does first
    assert (target / "weights").read_text() in ("old", "new"), "the checkpoint folder was lost"
