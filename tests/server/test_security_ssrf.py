"""Model names are names: whatever ``model`` a client sends, no request leaves for a host the
operator did not configure, and the sampling key goes nowhere else.

Two listeners on loopback: the sampling endpoint the server is configured with
(``sampling_base_url``, with a secret key) and an attacker's. Every sampling endpoint (chat,
responses, completions, eval runs, fine-tuning jobs) is sent URL-like, path-like and
look-alike names; the attacker's listener must receive nothing at all, and whatever reaches
the configured endpoint carries plain model names only. Path-like names do not reach the
file system either: an existing path and a missing one get the same answer.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from openrft.config import Settings
from openrft.server._shared import is_plain_name
from tests.server.conftest import API_KEY, free_port, rft_rows, wait_for

SAMPLING_KEY = "sk-sampling-secret-42"
CHECK = {
    "type": "string_check",
    "name": "s",
    "input": "{{sample.output_text}}",
    "reference": "a",
    "operation": "eq",
}


class Attacker:
    """A loopback listener that only counts what connects to it (and keeps the first bytes)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.received.append(conn.recv(4096) or b"(connected)")
                except OSError:
                    self.received.append(b"(connected)")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


class Sampling(BaseHTTPRequestHandler):
    """The configured endpoint: records each request's key and model, answers a chat completion."""

    seen: ClassVar[list[tuple[str, str | None, str | None]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        Sampling.seen.append((self.path, self.headers.get("authorization"), body.get("model")))
        choice = {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        reply = {
            "id": "c-1",
            "object": "chat.completion",
            "created": 1,
            "model": body.get("model"),
            "choices": [choice],
            "usage": usage,
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def hostile_names(port: int, existing: Path) -> list[str]:
    url = f"127.0.0.1:{port}"
    urls = [f"http://{url}/v1#x", f"https://{url}/v1#x", f" http://{url}/v1#x", f"HTTP://{url}/v1#x"]
    urls += [f"http://{url}", f"http:{url}/v1#x", f"//{url}/v1", f"http://{url}/v1#ft:tiny"]
    urls += [f"ft:http://{url}/v1#x", f"org/repo#http://{url}/v1", f"org/repo@x#http://{url}/v1"]
    urls += [f"http://attacker@{url}/v1#x", "file:///etc/passwd"]
    paths = [str(existing), "./data", "../data", "~/x", "x.gguf", "a/../../etc", "data%2f.."]
    plain = [url, "data"]  # plain names: they may only go to the configured endpoint
    return urls + paths + plain


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[dict[str, Any]]:
    import uvicorn

    from openrft.server import ServerSettings, create_app

    sampling = ThreadingHTTPServer(("127.0.0.1", 0), Sampling)
    threading.Thread(target=sampling.serve_forever, daemon=True).start()
    attacker = Attacker()
    data_dir = tmp_path_factory.mktemp("ssrf")
    core = Settings(
        sampling_base_url=f"http://127.0.0.1:{sampling.server_address[1]}/v1",
        sampling_api_key=SAMPLING_KEY,
        sampling_max_retries=0,
        sampling_timeout=10,
    )
    settings = ServerSettings(data_dir=data_dir, models={"tiny": str(tiny_model_dir)}, hub_models=["*"])
    app = create_app(settings, api_keys=[API_KEY], core=core)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield {
            "url": f"http://127.0.0.1:{port}",
            "attacker": attacker,
            "app": app,
            "core": core,
            "dir": data_dir,
        }
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        attacker.close()
        sampling.shutdown()
        sampling.server_close()


def requests_for(model: str, file_id: str, eval_id: str) -> list[tuple[str, dict[str, Any]]]:
    content = {"type": "file_content", "content": [{"item": {"q": "hi"}}]}
    template = {"type": "template", "template": [{"role": "user", "content": "{{item.q}}"}]}
    method = {"type": "reinforcement", "reinforcement": {"grader": CHECK}}
    run = {"type": "completions", "model": model, "source": content, "input_messages": template}
    return [
        (
            "/v1/chat/completions",
            {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
        ),
        ("/v1/responses", {"model": model, "input": "hi", "max_output_tokens": 16}),
        ("/v1/completions", {"model": model, "prompt": "hi", "max_tokens": 2}),
        (f"/v1/evals/{eval_id}/runs", {"data_source": run}),
        ("/v1/fine_tuning/jobs", {"model": model, "training_file": file_id, "method": method}),
    ]


def test_no_model_name_reaches_another_host_or_the_file_system(setup: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    attacker: Attacker = setup["attacker"]
    existing = setup["dir"] / "openrft.db"  # a file the server's user can read
    with httpx.Client(base_url=setup["url"], headers=headers, timeout=60) as http:
        files = {"file": ("t.jsonl", rft_rows(2), "application/jsonl")}
        file_id = http.post("/v1/files", files=files, data={"purpose": "fine-tune"}).json()["id"]
        ev = {"data_source_config": {"type": "custom", "item_schema": {}}, "testing_criteria": [CHECK]}
        eval_id = http.post("/v1/evals", json=ev).json()["id"]
        answers: dict[str, dict[str, int]] = {}
        for model in hostile_names(attacker.port, existing):
            for path, body in requests_for(model, file_id, eval_id):
                status = http.post(path, json=body).status_code
                answers.setdefault(model, {})[path.split("/")[2]] = status
                if not is_plain_name(model):
                    assert status in (400, 404), (model, path, status)
        # An existing path and a missing one are the same unknown model.
        for path, body in requests_for(str(existing), file_id, eval_id)[:1]:
            found = http.post(path, json=body).json()
            missing = http.post(path, json={**body, "model": str(existing) + "-missing"}).json()
            assert found["error"]["message"].replace(str(existing), "M") == missing["error"][
                "message"
            ].replace(str(existing) + "-missing", "M")
    time.sleep(1)
    assert attacker.received == [], f"the attacker's listener got {attacker.received[:3]}"
    for path, key, model in Sampling.seen:  # only the configured endpoint, only plain names
        assert key == f"Bearer {SAMPLING_KEY}" and model is not None and is_plain_name(model), (path, model)


@pytest.mark.slow
def test_eval_runs_and_jobs_a_worker_runs_reach_no_other_host(setup: dict[str, Any]) -> None:
    """The same names through a worker: what was accepted runs, still only at the configured host."""
    from openrft.server.worker import start_worker_threads

    state = setup["app"].state.openrft
    fast = state.settings.model_copy(update={"poll_seconds": 0.2, "heartbeat_seconds": 0.5})
    stop, threads = start_worker_threads(fast, 1, store=state.store, core=setup["core"])
    headers = {"Authorization": f"Bearer {API_KEY}"}
    attacker: Attacker = setup["attacker"]
    try:
        with httpx.Client(base_url=setup["url"], headers=headers, timeout=60) as http:
            runs = http.get("/v1/evals", params={"limit": 100}).json()["data"]
            pending = [
                (e["id"], r["id"])
                for e in runs
                for r in http.get(f"/v1/evals/{e['id']}/runs", params={"limit": 100}).json()["data"]
            ]
            assert pending, "the first test queued runs for the plain names"
            for eval_id, run_id in pending:
                wait_for(
                    lambda e=eval_id, r=run_id: http.get(f"/v1/evals/{e}/runs/{r}").json(),
                    lambda run: run["status"] in ("completed", "failed", "canceled"),
                    timeout=240,
                )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert attacker.received == []
    assert Sampling.seen, "no run sampled at the configured endpoint: the worker ran nothing"
    for _path, key, model in Sampling.seen:
        assert key == f"Bearer {SAMPLING_KEY}" and is_plain_name(model or "")
