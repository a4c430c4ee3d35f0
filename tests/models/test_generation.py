"""Generation in slices and the scheduler that takes turns between requests on one model."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from openrft.models import Generation, GenerationScheduler, LocalChatModel


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path) -> LocalChatModel:
    return LocalChatModel(tiny_model_dir, device="cpu")


def _prompts(model: LocalChatModel) -> list[list[int]]:
    texts = [
        model.render([{"role": "user", "content": c}]) for c in ("the cat sat", "the dog ran on the mat")
    ]
    return [model.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]


def test_a_generation_in_many_slices_writes_what_one_slice_writes(model):
    prompts = _prompts(model)
    whole = Generation(prompts, n=2, temperature=0, max_tokens=24, logprobs=2)
    model.advance(whole)
    sliced = Generation(prompts, n=2, temperature=0, max_tokens=24, logprobs=2)
    while not sliced.done:  # a zero-second slice with someone waiting: one token per slice
        model.advance(sliced, slice_seconds=0.0, others_waiting=lambda: True)
    assert sliced.slices > 10
    for one, many in zip(whole.rows, sliced.rows, strict=True):
        assert one.tokens == many.tokens and len(one.tokens) > 0
        assert many.logprobs == pytest.approx(one.logprobs, abs=1e-4)


def test_the_listener_hears_every_token_as_it_is_sampled(model):
    heard: list[tuple[int, int]] = []
    generation = Generation(_prompts(model)[:1], n=3, temperature=1.0, max_tokens=12, seed=4)
    generation.listener = lambda row, token: heard.append((row, token))
    model.advance(generation)
    for row, written in enumerate(generation.rows):
        assert [t for r, t in heard if r == row] == written.tokens


def test_a_cancelled_generation_stops_at_its_next_token(model):
    generation = Generation(
        _prompts(model)[:1], temperature=1.0, max_tokens=800, logit_bias={model.eos_token_id: -100}
    )
    threading.Timer(0.3, generation.cancel).start()
    started = time.monotonic()
    model.advance(generation)
    assert generation.done and time.monotonic() - started < 3
    assert 0 < len(generation.rows[0].tokens) < 800


def test_a_short_request_is_not_held_up_by_a_long_one(model):
    scheduler = GenerationScheduler(model, slice_seconds=0.05)
    no_end = {model.eos_token_id: -100}
    long = Generation(_prompts(model)[:1], temperature=1.0, max_tokens=600, logit_bias=no_end)
    short = Generation(_prompts(model)[1:], temperature=1.0, max_tokens=5, logit_bias=no_end)
    writing = threading.Event()
    long.listener = lambda row, token: writing.set()
    scheduler.submit(long)
    assert writing.wait(30)
    scheduler.submit(short)
    assert short.finished.wait(30)
    assert not long.finished.is_set()  # the long one was still writing when the short one ended
    assert len(short.rows[0].tokens) == 5
    assert long.finished.wait(120) and len(long.rows[0].tokens) == 600
    scheduler.close()


def test_the_context_bounds_the_answer_and_refuses_a_prompt_too_long(model, monkeypatch):
    from openrft.errors import InvalidRequestError

    assert model.context_length == 1024
    monkeypatch.setattr(model.model.config, "max_position_embeddings", 40)
    no_end = {model.eos_token_id: -100}
    [[answer]] = model.generate([[{"role": "user", "content": "hi"}]], max_tokens=5000, logit_bias=no_end)
    assert answer.prompt_tokens + answer.completion_tokens == 40 and answer.finish_reason == "length"
    with pytest.raises(InvalidRequestError) as caught:
        model.generate([[{"role": "user", "content": "the cat " * 30}]], max_tokens=5)
    assert caught.value.code == "context_length_exceeded"
