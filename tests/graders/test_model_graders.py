"""score_model and label_model against a scripted OpenAI-compatible server on 127.0.0.1.

The fake server (``http.server`` in a thread) answers each request with the next scripted
reply, records what it saw and how many requests were in flight at once, never sleeps
longer than a few seconds, and stops itself when the test ends.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from openrft.config import Settings
from openrft.graders._judge import judge_model_name
from openrft.graders._model_graders import grade_label_model, grade_score_model, parse_label, parse_score
from openrft.graders._results import GraderMetadata, RunGraderResponse, TokenUsage
from openrft.graders._runtime import GraderRuntime
from openrft.graders._sample import make_sample
from openrft.graders._schema import LabelModelGrader, ScoreModelGrader
from openrft.graders._template import TemplateVariableError
from tests.services import require

HANG_LIMIT_S = 5.0


@dataclass
class Reply:
    """One scripted answer of the fake judge."""

    content: str | None = '{"result": 1, "steps": []}'
    status: int = 200
    refusal: str | None = None
    delay: float = 0.0
    hang: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    usage: dict[str, Any] = field(
        default_factory=lambda: {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    )


class FakeJudge:
    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.default = Reply()
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = False  # server_close() joins every handler thread
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.script.pop(0) if self.script else self.default

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                reply = judge._next(body)
                try:
                    judge.stop.wait(HANG_LIMIT_S if reply.hang else reply.delay)
                    if not reply.hang:
                        self._send(reply, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    judge._done()

            def _send(self, reply: Reply, body: dict[str, Any]) -> None:
                if reply.status == 200:
                    message = {"role": "assistant", "content": reply.content, "refusal": reply.refusal}
                    payload: dict[str, Any] = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "usage": reply.usage,
                        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    }
                else:
                    payload = {
                        "error": {
                            "message": f"scripted {reply.status}",
                            "type": "server_error",
                            "param": None,
                            "code": None,
                        }
                    }
                data = json.dumps(payload).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def __enter__(self) -> FakeJudge:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=HANG_LIMIT_S)


@pytest.fixture
def judge() -> Iterator[FakeJudge]:
    with FakeJudge() as fake:
        yield fake


@pytest.fixture
def runtime(judge: FakeJudge, tmp_path):
    made: list[GraderRuntime] = []

    def make(**overrides: Any) -> GraderRuntime:
        values: dict[str, Any] = {
            "judge_base_url": judge.url,
            "judge_api_key": "sk-test",
            "judge_timeout": 5.0,
            "judge_max_retries": 0,
            "cache_dir": tmp_path,
            **overrides,
        }
        made.append(GraderRuntime(Settings(**values)))
        return made[-1]

    yield make
    for rt in made:
        rt.close()


def score_grader(**fields: Any) -> ScoreModelGrader:
    return ScoreModelGrader(
        model=fields.pop("model", "gpt-4.1-2025-04-14"),
        input=fields.pop(
            "input",
            [
                {"role": "developer", "content": "You are a strict grader."},
                {
                    "role": "user",
                    "content": "Reference: {{item.reference_answer}}. Answer: {{sample.output_text}}",
                },
            ],
        ),
        **fields,
    )


def label_grader(**fields: Any) -> LabelModelGrader:
    return LabelModelGrader(
        model="gpt-4o-mini-2024-07-18",
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": "Classify: {{sample.output_text}}"}]}
        ],
        labels=["positive", "neutral", "negative"],
        passing_labels=["positive", "neutral"],
        **fields,
    )


async def score(rt: GraderRuntime, grader: ScoreModelGrader | None = None, answer: str = "Paris"):
    return await grade_score_model(
        grader or score_grader(), make_sample(answer), {"reference_answer": "Paris"}, rt
    )


async def test_valid_json_gives_the_reward_and_the_request_is_structured(judge, runtime):
    judge.script = [Reply('{"result": 0.75, "steps": [{"description": "d", "conclusion": "c"}]}')]
    params = {"seed": 42, "temperature": 0, "max_completions_tokens": 64}
    grade = await score(runtime(), score_grader(sampling_params=params))
    assert grade.reward == 0.75
    assert not grade.errors.raised()
    assert grade.details["steps"] == [{"description": "d", "conclusion": "c"}]
    [request] = judge.requests
    assert request["messages"] == [
        {"role": "system", "content": "You are a strict grader."},
        {"role": "user", "content": "Reference: Paris. Answer: Paris"},
    ]
    assert (request["seed"], request["temperature"], request["max_completion_tokens"]) == (42, 0, 64)
    assert "reasoning_effort" not in request and "top_p" not in request
    schema = request["response_format"]["json_schema"]["schema"]
    assert request["response_format"]["type"] == "json_schema"
    assert list(schema["properties"]) == ["result", "steps"] and schema["required"] == ["result", "steps"]
    assert grade.details["sample"]["input"] == request["messages"]
    assert grade.details["sample"]["output"][0]["content"].startswith('{"result": 0.75')


@pytest.mark.parametrize(
    ("result", "bounds", "expected"),
    [(7, [0, 5], 5.0), (-1, [-1, 1], -1.0), (-3, [-1, 1], -1.0), (0.25, None, 0.25), (1.5, None, 1.0)],
)
async def test_scores_are_clamped_to_the_range(judge, runtime, result, bounds, expected):
    judge.default = Reply(json.dumps({"result": result, "steps": []}))
    grade = await score(runtime(), score_grader(range=bounds))
    assert grade.reward == expected and not grade.errors.raised()
    assert "-1 to 1" in json.dumps(judge.requests[0]["response_format"]) if bounds == [-1, 1] else True


@pytest.mark.parametrize(
    "content",
    [
        'Sure!\n```json\n{"steps": [], "result": 0.6}\n```\nDone.',
        'I think {"result": 0.6, "steps": []} fits.',
        "0.6",
        '{"result": "0.6", "steps": []}',
        '{"result": 0.6, "steps": [{"description": "cut off here',
    ],
    ids=["fenced", "embedded", "bare-number", "numeric-string", "truncated"],
)
async def test_lenient_parsing(judge, runtime, content):
    judge.default = Reply(content)
    grade = await score(runtime())
    assert grade.reward == pytest.approx(0.6)
    assert not grade.errors.raised()


@pytest.mark.parametrize(
    "content",
    [
        "I cannot grade this.",
        '{"result": "high", "steps": []}',
        '{"result": NaN, "steps": []}',
        '{"score": 1}',
        "",
        None,
    ],
    ids=["prose", "word", "nan", "wrong-key", "empty", "null"],
)
async def test_unparseable_answers_give_zero_and_a_parse_error(judge, runtime, content):
    judge.default = Reply(content)
    grade = await score(runtime(), score_grader(range=[-1, 1]))
    assert grade.reward == 0.0
    assert grade.errors.raised() == ["model_grader_parse_error"]
    assert grade.details["parse_error"]


async def test_refusal(judge, runtime):
    judge.default = Reply(None, refusal="I can't help with that.")
    grade = await score(runtime())
    assert grade.reward == 0.0
    assert grade.errors.raised() == ["model_grader_refusal_error"]


async def test_retries_on_429_and_500_then_succeeds(judge, runtime):
    judge.script = [
        Reply(status=429, headers={"retry-after-ms": "10"}),
        Reply(status=500, headers={"retry-after-ms": "10"}),
        Reply('{"result": 0.5, "steps": []}'),
    ]
    grade = await score(runtime(judge_max_retries=3))
    assert grade.reward == 0.5 and not grade.errors.raised()
    assert len(judge.requests) == 3


async def test_backoff_without_retry_after_then_gives_up(judge, runtime):
    judge.default = Reply(status=503)
    started = time.perf_counter()
    grade = await score(runtime(judge_max_retries=1))
    assert time.perf_counter() - started >= 0.3  # the openai client's backoff (0.5 s less jitter)
    assert len(judge.requests) == 2
    assert grade.errors.raised() == ["model_grader_server_error"]
    assert "503" in grade.errors.model_grader_server_error_details
    assert grade.token_usage is None and grade.reward == 0.0


async def test_client_errors_are_not_retried(judge, runtime):
    judge.default = Reply(status=400)
    grade = await score(runtime(judge_max_retries=3))
    assert len(judge.requests) == 1
    assert grade.errors.model_grader_server_error
    assert "HTTP 400" in grade.errors.model_grader_server_error_details


async def test_a_hanging_judge_times_out(judge, runtime):
    judge.default = Reply(hang=True)
    started = time.perf_counter()
    grade = await score(runtime(judge_timeout=0.5))
    assert time.perf_counter() - started < HANG_LIMIT_S - 1
    assert grade.errors.raised() == ["model_grader_server_error"]
    assert "did not answer within 0.5 s" in grade.errors.model_grader_server_error_details


async def test_model_names_map_through_settings(judge, runtime):
    rt = runtime(judge_models={"gpt-4.1-2025-04-14": "qwen2.5-7b-instruct"})
    mapped = await score(rt)
    unmapped = await score(rt, score_grader(model="o3-mini-2025-01-31"))
    assert [r["model"] for r in judge.requests] == ["qwen2.5-7b-instruct", "o3-mini-2025-01-31"]
    assert mapped.sampled_model_name == "qwen2.5-7b-instruct"
    assert unmapped.sampled_model_name == "o3-mini-2025-01-31"


def test_unmapped_names_use_the_default_model_locally():
    local = Settings(judge_models={"gpt-4o-2024-08-06": "my-judge"})
    assert judge_model_name(local, "gpt-4o-2024-08-06") == "my-judge"
    assert (
        judge_model_name(local, "gpt-4.1-2025-04-14") == local.judge_default_model == "smollm2-135m-instruct"
    )
    remote = Settings(judge_base_url="http://127.0.0.1:1/v1")
    assert judge_model_name(remote, "gpt-4.1-2025-04-14") == "gpt-4.1-2025-04-14"


async def test_token_usage_per_model_and_summed(judge, runtime):
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 120,
        "prompt_tokens_details": {"cached_tokens": 64},
    }
    judge.default = Reply('{"result": 1, "steps": []}', usage=usage)
    rt = runtime()
    grades = [await score(rt), await score(rt)]
    expected = TokenUsage(prompt_tokens=100, completion_tokens=20, total_tokens=120, cached_tokens=64)
    for grade in grades:
        assert grade.token_usage == expected
        assert grade.usage_per_model == {"gpt-4.1-2025-04-14": expected}
    total = grades[0].token_usage.add(grades[1].token_usage)
    assert (total.prompt_tokens, total.completion_tokens, total.total_tokens) == (200, 40, 240)


@pytest.mark.parametrize(
    ("content", "label", "reward"),
    [
        ('{"steps": [], "result": "positive"}', "positive", 1.0),
        ('{"steps": [], "result": " Neutral "}', "neutral", 1.0),
        ('{"steps": [{"description": "d", "conclusion": "c"}], "result": "negative"}', "negative", 0.0),
        ('```json\n{"result": "NEGATIVE"}\n```', "negative", 0.0),
        ("positive", "positive", 1.0),
    ],
)
async def test_label_model_pass_and_fail(judge, runtime, content, label, reward):
    judge.default = Reply(content)
    grade = await grade_label_model(label_grader(), make_sample("great!"), {}, runtime())
    assert (grade.label, grade.reward) == (label, reward)
    assert not grade.errors.raised()
    [request] = judge.requests
    schema = request["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["result"]["enum"] == ["positive", "neutral", "negative"]
    assert list(schema["properties"]) == ["steps", "result"]
    assert request["messages"] == [{"role": "user", "content": "Classify: great!"}]


@pytest.mark.parametrize("content", ['{"steps": [], "result": "mixed"}', '{"steps": [], "result": 1}', "hmm"])
async def test_label_outside_the_set_is_a_parse_error(judge, runtime, content):
    judge.default = Reply(content)
    grade = await grade_label_model(label_grader(), make_sample("meh"), {}, runtime())
    assert grade.label is None and grade.reward == 0.0
    assert grade.errors.raised() == ["model_grader_parse_error"]


async def test_concurrency_limit_is_held(judge, runtime):
    judge.default = Reply('{"result": 1, "steps": []}', delay=0.2)
    rt = runtime(judge_concurrency=2)
    grades = await asyncio.gather(*(score(rt) for _ in range(6)))
    assert all(g.reward == 1.0 for g in grades)
    assert judge.max_in_flight == 2
    assert len(judge.requests) == 6


async def test_content_items_are_rendered_and_sent_as_parts(judge, runtime):
    grader = score_grader(
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Caption: {{sample.output_text}}"},
                    {"type": "input_image", "image_url": "{{item.image}}", "detail": "low"},
                    {"type": "input_audio", "input_audio": {"data": "{{item.audio}}", "format": "wav"}},
                ],
            }
        ]
    )
    item = {"image": "https://example.invalid/cat.png", "audio": "UklGRg=="}
    await grade_score_model(grader, make_sample("a cat"), item, runtime())
    assert judge.requests[0]["messages"][0]["content"] == [
        {"type": "text", "text": "Caption: a cat"},
        {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png", "detail": "low"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    ]


async def test_a_missing_template_variable_raises_before_any_request(judge, runtime):
    grader = score_grader(input=[{"role": "user", "content": "{{item.nope}}"}])
    with pytest.raises(TemplateVariableError):
        await grade_score_model(grader, make_sample("x"), {}, runtime())
    assert judge.requests == []


def test_one_runtime_serves_several_event_loops(judge, runtime):
    rt = runtime()
    first = asyncio.run(score(rt))
    second = asyncio.run(score(rt))  # a new loop gets its own client; the old one was closed
    assert first.reward == second.reward == 1.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**0.8**", 0.8),
        ('{"result": 1e-1, "steps": []}', 0.1),
        ("score: high", None),
        ("[0.5]", None),
        ('{"result": true}', None),
        ('{"result": Infinity}', None),
        ('{"result": 0.', None),  # cut off inside the number: unknown, not 0
    ],
)
def test_parse_score(text, expected):
    assert parse_score(text)[0] == expected


def test_parse_label_keeps_the_canonical_spelling():
    assert parse_label('{"result": "YES"}', ["Yes", "No"])[0] == "Yes"
    assert parse_label('{"steps": [], "result": "Maybe"', ["Yes", "No"])[0] is None


@pytest.mark.slow
def test_score_model_on_the_packaged_smollm2_local_judge(record_property):
    """End to end on the real local judge (converts the GGUF once into OPENRFT_CACHE_DIR)."""
    require("packaged-models")
    grader = score_grader(
        range=[0, 1], sampling_params={"temperature": 0, "seed": 0, "max_completions_tokens": 32}
    )
    settings = Settings(judge_base_url=None, judge_timeout=120.0)
    timings = []
    with GraderRuntime(settings) as rt:
        for answer in ("Paris", "Lyon"):
            started = time.perf_counter()
            grade = asyncio.run(score(rt, grader, answer))
            timings.append(round(time.perf_counter() - started, 2))
            assert not grade.errors.model_grader_server_error, grade.errors
            assert grade.sampled_model_name == "smollm2-135m-instruct"
            assert 0.0 <= grade.reward <= 1.0
            assert grade.token_usage is not None
            assert grade.token_usage.prompt_tokens > 0 and 0 < grade.token_usage.completion_tokens <= 32
            response = RunGraderResponse(
                reward=grade.reward,
                metadata=GraderMetadata(
                    name=grader.name,
                    type=grader.type,
                    errors=grade.errors,
                    execution_time=timings[-1],
                    token_usage=grade.token_usage,
                    sampled_model_name=grade.sampled_model_name,
                ),
                model_grader_token_usage_per_model=grade.usage_per_model,
            )
            wire = response.model_dump(mode="json")
            assert wire["model_grader_token_usage_per_model"]["smollm2-135m-instruct"]["total_tokens"] > 0
    record_property("seconds_first_call_then_second", timings)
    print(f"local judge: first call (load, maybe convert) {timings[0]} s, next call {timings[1]} s")
