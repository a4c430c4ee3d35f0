"""A real server on a free loopback port (uvicorn in a thread), driven by the official client."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

API_KEY = "sk-test-openrft"


@dataclass
class Running:
    url: str
    """``http://127.0.0.1:PORT`` (the API is under ``/v1``)."""
    key: str
    data_dir: Path
    app: Any

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def client(self, **options: Any) -> Any:
        """The official client, validating every response against its types (a shape drift fails)."""
        from openai import OpenAI

        options = {"max_retries": 0, "timeout": 120, "_strict_response_validation": True, **options}
        return OpenAI(base_url=self.base_url, api_key=self.key, **options)

    def lenient_client(self, **options: Any) -> Any:
        """The client without strict validation, for what OpenAI's own server answers but its SDK
        types refuse (reference §8): a multi grader's ``graders`` as a named map, the job status
        ``paused``, the file purpose ``evals``."""
        return self.client(_strict_response_validation=False, **options)

    @property
    def store(self) -> Any:
        return self.app.state.openrft.store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def run_server(data_dir: Path, **settings: Any) -> Iterator[Running]:
    """Serve ``create_app`` on loopback until the block ends."""
    import uvicorn

    from openrft.server import ServerSettings, create_app

    app = create_app(ServerSettings(data_dir=data_dir, **settings), api_keys=[API_KEY])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield Running(f"http://127.0.0.1:{port}", API_KEY, data_dir, app)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Running]:
    """One server for the package's read/write tests (no worker: queued work stays queued)."""
    with run_server(tmp_path_factory.mktemp("server"), models={"tiny": str(tiny_model_dir)}) as running:
        yield running


FAST_WORKER = dict(poll_seconds=0.2, heartbeat_seconds=0.5, lease_seconds=30)


@contextmanager
def run_server_with_worker(data_dir: Path, models: dict[str, str]) -> Iterator[Running]:
    """:func:`run_server` plus one job worker in a thread of this process."""
    from openrft.server.worker import start_worker_threads

    with run_server(data_dir, models=models, **FAST_WORKER) as running:
        state = running.app.state.openrft
        stop, threads = start_worker_threads(state.settings, 1, store=state.store)
        try:
            yield running
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Running]:
    """A server with one job worker in a thread, offering the tiny model as ``tiny``."""
    with run_server_with_worker(tmp_path_factory.mktemp("jobs"), {"tiny": str(tiny_model_dir)}) as running:
        yield running


def wait_for(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 300) -> Any:
    """Poll ``fetch`` until ``done`` holds of what it returns; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"timed out; last: {value}"
        time.sleep(0.3)


@pytest.fixture
def client(server: Running) -> Any:
    return server.client()


def rft_rows(count: int, **extra: Any) -> bytes:
    """RFT training lines: a user prompt and an ``answer`` for graders to read."""
    rows = [
        {"messages": [{"role": "user", "content": f"the dog ran {i}"}], "answer": "a", "n": i, **extra}
        for i in range(count)
    ]
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


STRING_CHECK = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "like",
}
