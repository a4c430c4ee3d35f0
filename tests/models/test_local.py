"""LocalChatModel on a tiny random Llama built in code: batching, accounting, constrained JSON.

The tokenizer is a small BPE trained here (cpu-feasibility reference §3) with a ChatML chat
template; nothing is downloaded. Also covers the in-process local judge end to end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import jsonschema
import pytest

from openrft.config import Settings
from openrft.graders._model_graders import grade_label_model, grade_score_model
from openrft.graders._runtime import GraderRuntime
from openrft.graders._sample import make_sample
from openrft.graders._schema import LabelModelGrader, ScoreModelGrader
from openrft.models import BatchingChatModel, LocalChatModel, resolve_model_path, token_bytes
from tests.tiny_models import build_tokenizer


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> LocalChatModel:
    return LocalChatModel(tiny_model_dir)


def _chat(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Grade."}, {"role": "user", "content": text}]


def test_resolve_accepts_a_checkpoint_folder_and_rejects_unknown_names(tiny_model_dir, tmp_path):
    assert resolve_model_path(str(tiny_model_dir), tmp_path) == tiny_model_dir
    with pytest.raises(Exception, match="unknown local model"):
        resolve_model_path("no-such-model", tmp_path)


def test_batched_generation_matches_one_at_a_time(tiny):
    conversations = [_chat("the cat"), _chat("Grade the answer. Reference: Paris. Answer: Lyon. the dog ran")]
    batched = tiny.generate(conversations, temperature=0, max_tokens=12)
    alone = [tiny.generate([c], temperature=0, max_tokens=12)[0] for c in conversations]
    assert [b[0].text for b in batched] == [a[0].text for a in alone]
    for conversation, [completion] in zip(conversations, batched, strict=True):
        expected_prompt = len(
            tiny.tokenizer(tiny.render(conversation), add_special_tokens=False)["input_ids"]
        )
        assert completion.prompt_tokens == expected_prompt
        assert 1 <= completion.completion_tokens <= 12
        assert completion.finish_reason in ("stop", "length")
        if completion.finish_reason == "length":
            assert completion.completion_tokens == 12


def test_n_completions_and_seeds(tiny):
    first = tiny.generate([_chat("the cat"), _chat("the dog")], n=3, temperature=1.0, max_tokens=8, seed=7)
    again = tiny.generate([_chat("the cat"), _chat("the dog")], n=3, temperature=1.0, max_tokens=8, seed=7)
    assert [len(row) for row in first] == [3, 3]
    assert [[c.text for c in row] for row in first] == [[c.text for c in row] for row in again]
    assert tiny.generate([], max_tokens=4) == []


SCHEMAS = [
    {
        "type": "object",
        "properties": {
            "result": {"type": "number"},
            "label": {"type": "string", "enum": ["pass", "fail", 'Needs "review"']},
            "ok": {"type": "boolean"},
        },
        "required": ["result", "label", "ok"],
        "additionalProperties": False,
    },
    {
        "type": "object",
        "properties": {
            "steps": {
                "type": "array",
                "maxItems": 2,
                "items": {
                    "type": "object",
                    "properties": {"conclusion": {"type": "string", "maxLength": 6}},
                    "required": ["conclusion"],
                    "additionalProperties": False,
                },
            },
            "count": {"type": "integer"},
            "note": {"type": ["string", "null"], "maxLength": 4},
        },
        "required": ["steps", "count", "note"],
        "additionalProperties": False,
    },
]


@pytest.mark.slow
@pytest.mark.parametrize("schema", SCHEMAS, ids=["flat", "nested"])
def test_constrained_decoding_always_validates(tiny, schema):
    conversations = [_chat("the cat"), _chat("json please"), _chat("Reference: Paris.")]
    for seed in range(3):
        rows = tiny.generate(
            conversations, n=2, temperature=1.0, max_tokens=160, seed=seed, json_schema=schema
        )
        for completion in (c for row in rows for c in row):
            assert completion.finish_reason == "stop", completion
            jsonschema.validate(json.loads(completion.text), schema)


def test_constrained_greedy_decoding_of_the_score_schema(tiny):
    from openrft.graders._model_graders import score_response_format

    schema = score_response_format(0, 1)["json_schema"]["schema"]
    [[completion]] = tiny.generate([_chat("the cat")], temperature=0, max_tokens=48, json_schema=schema)
    assert completion.text.startswith("{")
    if completion.finish_reason == "stop":
        jsonschema.validate(json.loads(completion.text), schema)
    else:  # cut off by max_tokens: what there is still follows the schema's shape
        assert '"result"' in completion.text


@pytest.mark.parametrize("kind", ["metaspace", "bytelevel"])
def test_token_bytes_match_the_tokenizer(kind):
    tokenizer = build_tokenizer(kind)
    table = token_bytes(tokenizer)
    special = set(tokenizer.all_special_ids)
    assert not special & set(table)
    anchor = tokenizer.convert_tokens_to_ids("a")
    for token_id, raw in table.items():
        # Decoding next to an anchor token keeps the leading space a lone token would lose.
        decoded = tokenizer.decode([anchor, token_id])[len(tokenizer.decode([anchor])) :]
        if "\ufffd" not in decoded:
            assert decoded.encode() == raw, (tokenizer.convert_ids_to_tokens(token_id), decoded, raw)


def test_importing_graders_and_models_does_not_load_torch():
    code = (
        "import sys, openrft.graders, openrft.graders._model_graders, openrft.models; "
        "heavy = [m for m in ('torch', 'transformers', 'outlines_core') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_batching_coalesces_concurrent_requests(tiny_model_dir):
    model = LocalChatModel(tiny_model_dir)
    batches: list[int] = []
    generate = model.generate
    queued = threading.Event()

    def spy(conversations, **options):
        batches.append(len(conversations))
        if len(batches) == 1:  # hold the first batch until every request below is queued
            assert queued.wait(60), "the requests were never all queued"
        return generate(conversations, **options)

    model.generate = spy  # type: ignore[method-assign]
    batcher = BatchingChatModel(model)
    running = batcher.submit(_chat("hello"), temperature=0, max_tokens=4)
    texts = ["the cat", "the dog", "json please"]
    same = [batcher.submit(_chat(t), temperature=0, max_tokens=6) for t in texts]
    different = batcher.submit(_chat("the mat"), temperature=0, max_tokens=5)
    queued.set()
    results = [future.result(timeout=60) for future in same]
    apart = different.result(timeout=60)
    # Requests queued behind a running batch share one batch per set of options, in order.
    assert batches == [1, 3, 1]
    assert [r[0].text for r in results] == [
        c[0].text for c in generate([_chat(t) for t in texts], temperature=0, max_tokens=6)
    ]
    alone = generate([_chat("the mat")], temperature=0, max_tokens=5)[0][0]
    assert apart[0].text == alone.text
    assert (
        running.result(timeout=60)[0].text
        == generate([_chat("hello")], temperature=0, max_tokens=4)[0][0].text
    )
    batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit(_chat("late"), max_tokens=2)


# --- the in-process local judge, on the tiny model ---------------------------------------------


def _local_runtime(tiny_model_dir: Path, tmp_path: Path) -> GraderRuntime:
    settings = Settings(
        judge_base_url=None,
        judge_models={"gpt-4.1-2025-04-14": str(tiny_model_dir)},
        judge_default_model=str(tiny_model_dir),
        cache_dir=tmp_path,
        judge_max_retries=2,
        judge_timeout=30,
    )
    return GraderRuntime(settings)


async def test_local_judge_score_model_end_to_end(tiny_model_dir, tmp_path):
    grader = ScoreModelGrader(
        model="gpt-4.1-2025-04-14",
        input=[
            {"role": "developer", "content": "Grade."},
            {"role": "user", "content": "Reference: {{item.ref}}. Answer: {{sample.output_text}}."},
        ],
        range=[-1, 1],
        sampling_params={"temperature": 0, "max_completions_tokens": 40, "seed": 1},
    )
    with _local_runtime(tiny_model_dir, tmp_path) as rt:
        grade = await grade_score_model(grader, make_sample("Lyon"), {"ref": "Paris"}, rt)
    assert not grade.errors.model_grader_server_error, grade.errors
    assert grade.sampled_model_name == "gpt-4.1-2025-04-14"  # the grader's name, never the server path
    assert grade.token_usage is not None and grade.token_usage.completion_tokens > 0
    assert grade.usage_per_model == {"gpt-4.1-2025-04-14": grade.token_usage}
    assert -1 <= grade.reward <= 1
    output = grade.details["sample"]["output"][0]["content"]
    assert output.startswith("{") and '"result"' in output
    assert grade.details["sample"]["input"][0] == {"role": "system", "content": "Grade."}


async def test_local_judge_label_model_picks_a_label(tiny_model_dir, tmp_path):
    grader = LabelModelGrader(
        model="gpt-4o-mini",  # unmapped: the local default model runs
        input=[{"role": "user", "content": "Is {{sample.output_text}} right?"}],
        labels=["yes", "no"],
        passing_labels=["yes"],
        sampling_params={"temperature": 0, "max_completions_tokens": 200},
    )
    with _local_runtime(tiny_model_dir, tmp_path) as rt:
        grade = await grade_label_model(grader, make_sample("the cat"), {}, rt)
    assert not grade.errors.model_grader_server_error, grade.errors
    if not grade.errors.model_grader_parse_error:  # a random model may run out of tokens
        assert grade.label in ("yes", "no")
        assert grade.reward == (1.0 if grade.label == "yes" else 0.0)


async def test_local_judge_reports_bad_requests_as_server_errors(tiny_model_dir, tmp_path):
    unknown = ScoreModelGrader(model="gpt-4.1-2025-04-14", input=[{"role": "user", "content": "hi"}])
    image = ScoreModelGrader(
        model="gpt-4.1-2025-04-14",
        input=[
            {"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png;base64,AA"}]}
        ],
    )
    settings = _local_runtime(tiny_model_dir, tmp_path).settings
    settings.judge_models = {"gpt-4.1-2025-04-14": "no-such-model"}
    with GraderRuntime(settings) as rt:
        missing = await grade_score_model(unknown, make_sample("x"), {}, rt)
    with _local_runtime(tiny_model_dir, tmp_path) as rt:
        no_images = await grade_score_model(image, make_sample("x"), {}, rt)
    assert missing.errors.model_grader_server_error
    assert "unknown local model 'no-such-model'" in missing.errors.model_grader_server_error_details
    assert no_images.errors.model_grader_server_error
    assert "text only" in no_images.errors.model_grader_server_error_details
