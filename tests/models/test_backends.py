"""The sampling interface on the local backend, reasoning tokens, devices, ``from_loaded``,
``open_backend``'s model forms. Tiny random models built in code."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import torch

from openrft.config import Settings
from openrft.errors import BackendUnavailable, InvalidRequestError
from openrft.models import (
    GenerationOptions,
    LocalBackend,
    LocalChatModel,
    RemoteBackend,
    SamplingBackend,
    count_reasoning_tokens,
    estimate_reasoning_tokens,
    open_backend,
    select_device,
)
from tests.tiny_models import build_tokenizer

CAT = [{"role": "user", "content": "the cat"}]
DOG = [{"role": "system", "content": "Grade."}, {"role": "user", "content": "the dog ran"}]


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> LocalBackend:
    settings = Settings(cache_dir=tmp_path_factory.mktemp("cache"))
    opened = open_backend(str(tiny_model_dir), settings)
    assert isinstance(opened, LocalBackend)
    return opened


# --- the interface on the local backend ----------------------------------------------------


async def test_local_backend_gives_n_reproducible_completions(backend, tiny_model_dir):
    assert isinstance(backend, SamplingBackend)
    assert backend.name == str(tiny_model_dir)
    options = GenerationOptions(temperature=1.0, max_tokens=8, seed=11)
    first = await backend.sample([CAT, DOG], n=3, options=options)
    again = await backend.sample([CAT, DOG], n=3, options=options)
    other = await backend.sample(
        [CAT, DOG], n=3, options=GenerationOptions(temperature=1.0, max_tokens=8, seed=12)
    )
    texts = [[c.text for c in row] for row in first]
    assert [len(row) for row in first] == [3, 3]
    assert texts == [[c.text for c in row] for row in again]
    assert texts != [[c.text for c in row] for row in other]
    assert len(set(texts[0])) > 1  # n samples, not one sample repeated
    for row in first:
        for completion in row:
            assert 1 <= completion.completion_tokens <= 8
            assert completion.reasoning_tokens == 0


async def test_local_backend_respects_a_json_schema_response_format(backend):
    schema = {
        "type": "object",
        # bounded, so a random model cannot write digits until max_tokens (outlines-core ignores
        # the bounds; the backend turns them into a digit limit)
        "properties": {"result": {"type": "integer", "minimum": 0, "maximum": 99}, "ok": {"type": "boolean"}},
        "required": ["result", "ok"],
        "additionalProperties": False,
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "grade", "schema": schema}}
    options = GenerationOptions(temperature=1.0, max_tokens=120, seed=3, response_format=response_format)
    rows = await backend.sample([CAT, DOG], n=2, options=options)
    for completion in (c for row in rows for c in row):
        assert completion.finish_reason == "stop", completion
        jsonschema.validate(json.loads(completion.text), schema)
    # json_object constrains to any object (its automaton takes ~7 s to build, so not run here)
    assert GenerationOptions(response_format={"type": "json_object"}).json_schema == {"type": "object"}
    assert GenerationOptions(response_format={"type": "text"}).json_schema is None


# --- reasoning tokens ----------------------------------------------------------------------


def _first_prefix_with_end_tag(ids, decode):
    """The naive definition, one decode per prefix."""
    for k in range(1, len(ids) + 1):
        if "</think>" in decode(ids[:k]):
            return k
    return None


@pytest.mark.parametrize("tags", ["added tokens", "split into pieces"])
def test_reasoning_tokens_counted_on_token_ids(tags):
    tokenizer = build_tokenizer()
    if tags == "added tokens":
        tokenizer.add_tokens(["<think>", "</think>"])

    def decode(ids):
        return tokenizer.decode(list(ids), skip_special_tokens=False)

    ids = tokenizer("<think>the cat sat</think>the dog", add_special_tokens=False)["input_ids"]
    expected = _first_prefix_with_end_tag(ids, decode)
    assert expected is not None and 0 < expected < len(ids)
    assert count_reasoning_tokens(ids, decode) == expected
    assert decode(ids[:expected]).endswith("</think>")
    # The template opened the thought: the completion holds only the closing tag.
    closing = tokenizer("the cat</think>the dog", add_special_tokens=False)["input_ids"]
    assert count_reasoning_tokens(closing, decode, opened=True) == _first_prefix_with_end_tag(closing, decode)
    # Cut off while thinking: all of it; no tags: none.
    unfinished = tokenizer("<think>the cat sat on", add_special_tokens=False)["input_ids"]
    assert count_reasoning_tokens(unfinished, decode) == len(unfinished)
    plain = tokenizer("the cat sat", add_special_tokens=False)["input_ids"]
    assert count_reasoning_tokens(plain, decode) == 0
    assert count_reasoning_tokens(plain, decode, opened=True) == len(plain)
    assert count_reasoning_tokens([], decode) == 0


def test_reasoning_token_estimate_from_text():
    assert estimate_reasoning_tokens(100, "<think>abcdefgh</think>" + "x" * 23) == 50
    assert estimate_reasoning_tokens(90, "answer", reasoning_text="r" * 12) == 60
    assert estimate_reasoning_tokens(40, "<think>still going") == 40
    assert estimate_reasoning_tokens(40, "no thought") == 0
    assert estimate_reasoning_tokens(0, "<think>a</think>b") == 0


def test_reasoning_tokens_end_to_end_on_a_forced_output(tiny_model_dir):
    """A schema pattern forces ``<think>…</think>`` into the output of the random model."""
    model = LocalChatModel(tiny_model_dir)
    schema = {"type": "string", "pattern": "<think>[a-z ]{1,12}</think>[a-z]{1,6}"}
    [row] = model.generate([CAT], n=3, temperature=1.0, max_tokens=80, seed=1, json_schema=schema)

    def decode(ids):
        return model.tokenizer.decode(list(ids), skip_special_tokens=False)

    for completion in row:
        ids = list(completion.token_ids)
        assert completion.finish_reason == "stop"
        assert ids[-1] == model.eos_token_id and len(ids) == completion.completion_tokens
        assert "<think>" in completion.text and "</think>" in completion.text  # kept as generated
        text_ids = ids[: ids.index(model.eos_token_id)]
        assert completion.reasoning_tokens == _first_prefix_with_end_tag(text_ids, decode)
        assert 0 < completion.reasoning_tokens < completion.completion_tokens


# --- devices and wrapping a loaded model ---------------------------------------------------


def test_device_and_dtype_selection(tiny_model_dir):
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device(None) == expected
    assert select_device("cpu") == "cpu"
    with pytest.raises(InvalidRequestError, match="unknown device 'gpu0'"):
        select_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailable, match="sees no GPU"):
            select_device("cuda")
    model = LocalChatModel(tiny_model_dir)
    parameter = next(model.model.parameters())
    assert model.device.startswith(expected)
    assert parameter.dtype == (torch.bfloat16 if expected == "cuda" else torch.float32)
    with pytest.raises(InvalidRequestError, match="unknown dtype 'float33'"):
        LocalChatModel(tiny_model_dir, dtype="float33")


def test_from_loaded_leaves_a_training_model_as_it_was(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model.train()
    model.model.layers[0].eval()  # a frozen part stays in eval mode
    modes = {name: module.training for name, module in model.named_modules()}
    padding_side = tokenizer.padding_side
    torch.manual_seed(5)
    rng = torch.get_rng_state()

    wrapped = LocalChatModel.from_loaded(model, tokenizer, name="policy")
    greedy = wrapped.generate([CAT, DOG], temperature=0, max_tokens=10)
    sampled = wrapped.generate([CAT], n=2, temperature=1.0, max_tokens=10, seed=4)

    assert {name: module.training for name, module in model.named_modules()} == modes
    assert tokenizer.padding_side == padding_side
    assert torch.equal(torch.get_rng_state(), rng)  # a seeded call draws on a fork
    assert wrapped.name == "policy" and wrapped.model is model
    reference = LocalChatModel(tiny_model_dir)
    assert [r[0].text for r in greedy] == [
        r[0].text for r in reference.generate([CAT, DOG], temperature=0, max_tokens=10)
    ]
    again = reference.generate([CAT], n=2, temperature=1.0, max_tokens=10, seed=4)
    assert [c.text for c in sampled[0]] == [c.text for c in again[0]]
    with torch.no_grad():  # it sees the live weights: a change shows in the next answer
        model.model.norm.weight.mul_(-1.0)  # every logit changes sign
    flipped = wrapped.generate([CAT, DOG], temperature=0, max_tokens=10)
    assert [r[0].text for r in flipped] != [r[0].text for r in greedy]


# --- open_backend -----------------------------------------------------------------------------


def test_open_backend_model_forms(tmp_path, monkeypatch):
    settings = Settings(cache_dir=tmp_path)
    remote = open_backend("http://gpu-box:8000/v1#Qwen/Qwen3-8B", settings)
    assert isinstance(remote, RemoteBackend)
    assert (remote.base_url, remote.name) == ("http://gpu-box:8000/v1", "Qwen/Qwen3-8B")
    with pytest.raises(InvalidRequestError, match="names no model"):
        open_backend("http://gpu-box:8000/v1", settings)
    with pytest.raises(InvalidRequestError, match=r"unknown model 'gpt-5-mini'.*packaged model.*#MODEL"):
        open_backend("gpt-5-mini", settings)
    with pytest.raises(InvalidRequestError, match="no such file or folder"):
        open_backend("./checkpoints/missing", settings)
    with pytest.raises(InvalidRequestError, match=r"holds neither config\.json"):
        open_backend(str(tmp_path), settings)
    configured = Settings(
        cache_dir=tmp_path,
        sampling_base_url="http://judge:9000/v1",
        sampling_concurrency=3,
        sampling_timeout=5,
    )
    served = open_backend("gpt-5-mini", configured)
    assert isinstance(served, RemoteBackend)
    assert (served.base_url, served.model, served.endpoint.concurrency, served.endpoint.timeout) == (
        "http://judge:9000/v1",
        "gpt-5-mini",
        3,
        5.0,
    )
    with pytest.raises(InvalidRequestError, match="no such file or folder"):  # a path is never sent
        open_backend("missing.gguf", configured)
    monkeypatch.setenv("OPENRFT_SAMPLING_BASE_URL", "http://env-host:1/v1")
    assert open_backend("some-model", Settings(cache_dir=tmp_path)).base_url == "http://env-host:1/v1"
