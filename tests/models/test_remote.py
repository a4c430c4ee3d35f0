"""RemoteBackend against a real HTTP server: uvicorn in a thread, serving the tiny model.

The server's ``Behaviour`` makes it misbehave on purpose: fail the first requests with a
status, sleep past the client's timeout, reject ``n > 1`` or ``max_completion_tokens``,
return fewer choices than asked, report reasoning in the three ways servers do.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from openrft.errors import BackendUnavailable
from openrft.models import GenerationOptions, LocalChatModel, RemoteBackend

CAT = [{"role": "user", "content": "the cat"}]
DOG = [{"role": "system", "content": "Grade."}, {"role": "user", "content": "the dog ran"}]
THOUGHT = "<think>" + "the cat sat on the mat " * 2 + "</think>"


@dataclass
class Behaviour:
    fail: list[int] = field(default_factory=list)
    """Statuses answered to the next requests, one each (with ``retry-after-ms: 5``)."""
    sleep: float = 0.0
    hold: float = 0.0
    """Seconds each request stays in flight before generating (to observe concurrency)."""
    reject_n: bool = False
    max_choices: int | None = None
    reject_field: str | None = None
    reasoning: str | None = None
    """``details`` (usage field), ``content`` (``reasoning_content``) or ``text`` (``<think>`` inline)."""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0


class FakeOpenAI:
    """``POST /v1/chat/completions`` over a LocalChatModel, misbehaving as told."""

    def __init__(self, model: LocalChatModel):
        from fastapi import FastAPI, Request
        from fastapi.responses import JSONResponse

        self.model = model
        self.behaviour = Behaviour()
        self.app = FastAPI()

        async def chat(request: Request) -> JSONResponse:
            body = await request.json()
            b = self.behaviour
            b.bodies.append(body)
            if b.fail:
                status = b.fail.pop(0)
                return _error(JSONResponse, status, "try again", headers={"retry-after-ms": "5"})
            if b.reject_n and (body.get("n") or 1) > 1:
                return _error(JSONResponse, 400, "Unsupported value: 'n' must be 1 for this model")
            if b.reject_field and b.reject_field in body:
                return _error(JSONResponse, 400, f"Unrecognized request argument: {b.reject_field}")
            if body["model"] != "tiny":
                return _error(JSONResponse, 404, f"The model {body['model']} does not exist")
            b.in_flight += 1
            b.peak = max(b.peak, b.in_flight)
            try:
                await asyncio.sleep(b.sleep + b.hold)
                return JSONResponse(await self._complete(body))
            finally:
                b.in_flight -= 1

        # A Starlette route: the handler parses the body itself (and FastAPI cannot see
        # annotations imported inside this function).
        self.app.add_route("/v1/chat/completions", chat, methods=["POST"])

    async def _complete(self, body: dict[str, Any]) -> dict[str, Any]:
        b = self.behaviour
        fmt = body.get("response_format") or {}
        n = body.get("n") or 1
        [completions] = await asyncio.to_thread(
            self.model.generate,
            [body["messages"]],
            n=n,
            temperature=body.get("temperature", 1.0),
            top_p=body.get("top_p", 1.0),
            max_tokens=body.get("max_completion_tokens") or body.get("max_tokens") or 16,
            seed=body.get("seed"),
            json_schema=(fmt.get("json_schema") or {}).get("schema"),
        )
        completions = completions[: b.max_choices or n]
        choices = []
        for index, completion in enumerate(completions):
            message: dict[str, Any] = {"role": "assistant", "content": completion.text}
            if b.reasoning == "content":
                message["reasoning_content"] = "r" * 3 * len(completion.text)
            if b.reasoning == "text":
                message["content"] = THOUGHT + completion.text
            choices.append({"index": index, "message": message, "finish_reason": completion.finish_reason})
        generated = sum(c.completion_tokens for c in completions)
        usage: dict[str, Any] = {
            "prompt_tokens": completions[0].prompt_tokens,
            "completion_tokens": generated,
            "total_tokens": completions[0].prompt_tokens + generated,
        }
        if b.reasoning == "details":
            usage["completion_tokens_details"] = {"reasoning_tokens": len(completions)}
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": choices,
            "usage": usage,
        }


def _error(response_class: Any, status: int, message: str, headers: dict[str, str] | None = None) -> Any:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    return response_class(body, status_code=status, headers=headers)


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> LocalChatModel:
    return LocalChatModel(tiny_model_dir)


@pytest.fixture(scope="module")
def server(tiny: LocalChatModel):
    import uvicorn

    fake = FakeOpenAI(tiny)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        fake.app, log_level="critical", lifespan="off", ws="none", timeout_graceful_shutdown=1
    )
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not runner.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    fake.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    yield fake
    runner.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture
def fake(server: FakeOpenAI) -> FakeOpenAI:
    server.behaviour = Behaviour()
    return server


def _backend(fake: FakeOpenAI, model: str = "tiny", **kwargs: Any) -> RemoteBackend:
    return RemoteBackend(fake.base_url, model, **{"max_retries": 2, "timeout": 10.0, **kwargs})


# --- n, parameters, usage -----------------------------------------------------------------------


async def test_n_completions_in_one_request_match_the_model(fake, tiny):
    backend = _backend(fake)
    options = GenerationOptions(temperature=1.0, top_p=0.9, max_tokens=8, seed=5)
    rows = await backend.sample([CAT, DOG], n=3, options=options)
    assert [len(row) for row in rows] == [3, 3]
    assert len(fake.behaviour.bodies) == 2
    body = fake.behaviour.bodies[0]
    assert (body["n"], body["seed"], body["temperature"], body["top_p"]) == (3, 5, 1.0, 0.9)
    assert body["max_completion_tokens"] == 8 and "max_tokens" not in body
    for conversation, row in zip([CAT, DOG], rows, strict=True):
        [local] = tiny.generate([conversation], n=3, temperature=1.0, top_p=0.9, max_tokens=8, seed=5)
        assert [c.text for c in row] == [c.text for c in local]
        assert sum(c.completion_tokens for c in row) == sum(c.completion_tokens for c in local)
        assert {c.prompt_tokens for c in row} == {local[0].prompt_tokens}
        assert {c.finish_reason for c in row} <= {"stop", "length"}


async def test_endpoint_rejecting_n_falls_back_to_single_requests(fake, tiny):
    fake.behaviour.reject_n = True
    backend = _backend(fake)
    options = GenerationOptions(temperature=1.0, max_tokens=6, seed=20)
    [row] = await backend.sample([CAT], n=3, options=options)
    sent = [(b.get("n"), b.get("seed")) for b in fake.behaviour.bodies]
    assert sent[0] == (3, 20)
    assert sorted(sent[1:], key=str) == [(None, 20), (None, 21), (None, 22)]
    expected = [tiny.generate([CAT], temperature=1.0, max_tokens=6, seed=s)[0][0].text for s in (20, 21, 22)]
    assert [c.text for c in row] == expected
    fake.behaviour.bodies.clear()
    [row] = await backend.sample([DOG], n=2, options=options)  # remembered: n is not sent again
    assert len(row) == 2 and [b.get("n") for b in fake.behaviour.bodies] == [None, None]


async def test_fewer_choices_than_asked_are_topped_up(fake):
    fake.behaviour.max_choices = 1
    [row] = await _backend(fake).sample([CAT], n=3, options=GenerationOptions(max_tokens=5, seed=1))
    assert len(row) == 3
    first = fake.behaviour.bodies[0]
    assert (first.get("n"), first.get("seed")) == (3, 1)
    assert sorted(b.get("seed") for b in fake.behaviour.bodies[1:]) == [2, 3]


async def test_max_completion_tokens_rejected_by_name_falls_back_to_max_tokens(fake):
    fake.behaviour.reject_field = "max_completion_tokens"
    backend = _backend(fake)
    [[completion]] = await backend.sample([CAT], options=GenerationOptions(max_tokens=4, seed=1))
    assert completion.completion_tokens <= 4
    bodies = fake.behaviour.bodies
    assert ["max_completion_tokens" in b for b in bodies] == [True, False]
    assert bodies[1]["max_tokens"] == 4
    await backend.sample([DOG], options=GenerationOptions(max_tokens=4))
    assert "max_tokens" in bodies[2] and "max_completion_tokens" not in bodies[2]


async def test_response_format_is_passed_through(fake):
    schema = {
        "type": "object",
        "properties": {"label": {"type": "string", "enum": ["yes", "no"]}},
        "required": ["label"],
        "additionalProperties": False,
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "label", "schema": schema}}
    options = GenerationOptions(max_tokens=40, seed=3, response_format=response_format)
    [row] = await _backend(fake).sample([CAT], n=2, options=options)
    assert fake.behaviour.bodies[0]["response_format"] == response_format
    for completion in row:
        jsonschema.validate(json.loads(completion.text), schema)


@pytest.mark.parametrize("kind", ["details", "content", "text"])
async def test_reasoning_tokens_from_the_response(fake, kind):
    fake.behaviour.reasoning = kind
    [row] = await _backend(fake).sample([CAT, DOG][:1], n=2, options=GenerationOptions(max_tokens=8, seed=4))
    reasoning = [c.reasoning_tokens for c in row]
    if kind == "details":  # the server's count (2 for 2 choices), shared out
        assert sum(reasoning) == 2
    else:  # estimated: 3/4 of the characters (content), or the <think> part (text)
        for completion in row:
            assert 0 < completion.reasoning_tokens <= completion.completion_tokens
        if kind == "text":
            assert all(c.text.startswith(THOUGHT) for c in row)  # kept as returned


# --- retries, timeouts, errors, concurrency ----------------------------------------------------


async def test_429_and_500_are_retried_until_an_answer(fake):
    fake.behaviour.fail = [429, 500]
    [[completion]] = await _backend(fake, max_retries=2).sample(
        [CAT], options=GenerationOptions(max_tokens=4)
    )
    assert len(fake.behaviour.bodies) == 3
    assert completion.completion_tokens >= 1


async def test_persistent_errors_name_status_url_and_model(fake):
    fake.behaviour.fail = [503] * 4
    backend = _backend(fake, max_retries=2)
    with pytest.raises(BackendUnavailable) as caught:
        await backend.sample([CAT], options=GenerationOptions(max_tokens=4))
    message = caught.value.message
    assert "HTTP 503" in message and "(after 2 retries)" in message
    assert f"{fake.base_url}/chat/completions" in message and "'tiny'" in message
    assert len(fake.behaviour.bodies) == 3
    with pytest.raises(BackendUnavailable, match=r"HTTP 404: .*does not exist") as missing:
        await _backend(fake, model="no-such-model").sample([CAT], options=GenerationOptions(max_tokens=4))
    assert "retr" not in missing.value.message  # a 404 is not retried


async def test_timeout_gives_a_clear_error(fake):
    fake.behaviour.sleep = 1.0
    backend = _backend(fake, timeout=0.25, max_retries=0)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match=r"did not answer within 0.25 s") as caught:
        await backend.sample([CAT], options=GenerationOptions(max_tokens=4))
    assert time.monotonic() - started < 0.9
    assert caught.value.code == "remote_timeout"


async def test_unreachable_endpoint():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = RemoteBackend(f"http://127.0.0.1:{port}/v1", "tiny", max_retries=0, timeout=2)
    with pytest.raises(
        BackendUnavailable, match=rf"cannot reach http://127.0.0.1:{port}/v1/chat/completions"
    ):
        await backend.sample([CAT], options=GenerationOptions(max_tokens=4))


async def test_concurrency_never_exceeds_the_limit(fake):
    fake.behaviour.hold = 0.15
    backend = _backend(fake, concurrency=2)
    conversations = [[{"role": "user", "content": f"the cat {i}"}] for i in range(6)]
    rows = await backend.sample(conversations, options=GenerationOptions(max_tokens=2))
    assert len(rows) == 6 and fake.behaviour.peak == 2  # reached, never passed
    fake.behaviour.peak = 0
    more = await asyncio.gather(
        *(backend.sample(conversations[:3], options=GenerationOptions(max_tokens=2)) for _ in range(2))
    )
    assert [len(r) for r in more] == [3, 3] and fake.behaviour.peak == 2  # shared across calls
