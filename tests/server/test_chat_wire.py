"""Chat completions and responses speak OpenAI's wire: no parameter silently ignored, logprobs,
n up to 128, streamed responses, stored responses continued with ``previous_response_id``."""

from __future__ import annotations

import math

import openai
import pytest
from openai.types.responses import Response

HELLO = [{"role": "user", "content": "the cat sat"}]


@pytest.mark.parametrize("field", ["temprature", "max_token", "reasoning"])
def test_an_unknown_chat_parameter_is_a_400_naming_it(client, field):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=2, extra_body={field: 1})
    assert caught.value.body["param"] == field  # type: ignore[index]
    assert caught.value.body["message"] == f"Unrecognized request argument supplied: {field}"  # type: ignore[index]


def test_an_unknown_responses_parameter_is_a_400_naming_it(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="tiny", input="hi", max_output_tokens=2, extra_body={"max_tokens": 5})
    assert caught.value.body["param"] == "max_tokens"  # type: ignore[index]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"reasoning_effort": "high"}, "reasoning_effort"),
        ({"audio": {"voice": "alloy", "format": "wav"}, "modalities": ["text", "audio"]}, "audio"),
        ({"prediction": {"type": "content", "content": "x"}}, "prediction"),
        ({"store": True}, "store"),
        ({"service_tier": "flex"}, "service_tier"),
    ],
)
def test_a_known_chat_parameter_openrft_cannot_honour_is_a_400(client, params, field):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=2, **params)
    assert caught.value.body["param"] == field  # type: ignore[index]
    assert caught.value.body["code"] == "unsupported_parameter"  # type: ignore[index]


def test_a_known_responses_parameter_openrft_cannot_honour_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="tiny", input="hi", reasoning={"effort": "high"})
    assert caught.value.body["param"] == "reasoning"  # type: ignore[index]


def test_accepted_hints_and_metadata_do_not_fail(client):
    reply = client.chat.completions.create(
        model="tiny",
        messages=HELLO,
        max_tokens=2,
        user="u1",
        safety_identifier="s1",
        prompt_cache_key="k",
        service_tier="auto",
        store=False,
        metadata={"run": "7"},
        stream_options=None,
    )
    assert reply.metadata == {"run": "7"}


def test_logprobs_are_the_generated_tokens_with_their_alternatives(client):
    reply = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=6, temperature=0, logprobs=True, top_logprobs=3
    )
    [choice] = reply.choices
    content = choice.logprobs.content  # type: ignore[union-attr]
    expected = reply.usage.completion_tokens - (1 if choice.finish_reason == "stop" else 0)  # type: ignore[union-attr]
    assert content is not None and len(content) == expected > 0
    assert (
        "".join(bytes(t.bytes or []).decode() for t in content).strip()
        == (choice.message.content or "").strip()
    )
    for token in content:
        assert token.logprob <= 0 and len(token.top_logprobs) == 3
        # greedy: the chosen token is the most likely one
        assert math.isclose(token.logprob, token.top_logprobs[0].logprob, abs_tol=1e-4)
        assert [t.logprob for t in token.top_logprobs] == sorted(
            (t.logprob for t in token.top_logprobs), reverse=True
        )
    plain = client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=6, temperature=0)
    assert plain.choices[0].logprobs is None
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=2, top_logprobs=2)
    assert caught.value.body["param"] == "top_logprobs"  # type: ignore[index]


def test_logit_bias_bans_and_forces_tokens(client, tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    forced = tokenizer("cat", add_special_tokens=False)["input_ids"][0]
    reply = client.chat.completions.create(
        model="tiny",
        messages=HELLO,
        max_tokens=4,
        temperature=1.0,
        logit_bias={str(forced): 100},
        logprobs=True,
    )
    tokens = reply.choices[0].logprobs.content  # type: ignore[union-attr]
    assert tokens is not None and len(tokens) == 4
    assert all(bytes(t.bytes or []) == bytes(tokens[0].bytes or []) for t in tokens)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=2, logit_bias={"cat": 5})


def test_n_up_to_128_and_over_it_a_400(client):
    reply = client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=1, n=128, seed=1)
    assert [c.index for c in reply.choices] == list(range(128))
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=1, n=129)
    assert caught.value.body["param"] == "n"  # type: ignore[index]


def test_max_tokens_over_the_server_cap_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=10**9)
    assert caught.value.body["param"] == "max_tokens"  # type: ignore[index]
    assert "at most 4096" in caught.value.body["message"]  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="tiny", input="hi", max_output_tokens=10**9)
    assert caught.value.body["param"] == "max_output_tokens"  # type: ignore[index]


def test_streamed_response_events_join_to_the_stored_response(client):
    stream = client.responses.create(
        model="tiny", input="the cat sat", max_output_tokens=12, temperature=0, stream=True
    )
    kinds, deltas, final = [], [], None
    for event in stream:
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
        if event.type in ("response.completed", "response.incomplete"):
            final = event.response
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] in ("response.completed", "response.incomplete")
    assert "response.output_item.done" in kinds and "response.content_part.done" in kinds
    assert final is not None and "".join(deltas) == final.output_text
    stored = client.responses.retrieve(final.id)
    assert stored.output_text == final.output_text and stored.id == final.id
    plain = client.responses.create(model="tiny", input="the cat sat", max_output_tokens=12, temperature=0)
    assert plain.output_text == final.output_text


def test_responses_are_stored_listed_continued_and_deleted(client):
    first = client.responses.create(
        model="tiny", instructions="Answer briefly.", input="the cat sat", max_output_tokens=6, temperature=0
    )
    assert isinstance(first, Response) and first.store is True
    again = client.responses.retrieve(first.id)
    assert again.output_text == first.output_text and again.instructions == "Answer briefly."
    items = client.responses.input_items.list(first.id)
    assert [i.type for i in items.data] == ["message"] and items.data[0].role == "user"  # type: ignore[union-attr]

    second = client.responses.create(
        model="tiny", previous_response_id=first.id, input="and the dog", max_output_tokens=6, temperature=0
    )
    assert second.previous_response_id == first.id
    # The second prompt holds the first exchange: more input tokens than the first's input and output
    # (without its instructions, which do not carry over).
    assert second.usage.input_tokens > first.usage.output_tokens + 6  # type: ignore[union-attr]
    fresh = client.responses.create(model="tiny", input="and the dog", max_output_tokens=6, temperature=0)
    assert second.usage.input_tokens > fresh.usage.input_tokens  # type: ignore[union-attr]

    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.cancel(first.id)
    assert "background" in caught.value.body["message"]  # type: ignore[index]
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="tiny", previous_response_id=first.id, input="x", max_output_tokens=2)
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]

    unstored = client.responses.create(model="tiny", input="hi", max_output_tokens=2, store=False)
    assert unstored.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)


def test_background_responses_run_and_can_be_cancelled(client, server):
    import time

    done = client.responses.create(model="tiny", input="hi", max_output_tokens=4, background=True)
    assert done.status == "queued" and done.background is True
    deadline = time.monotonic() + 60
    while (current := client.responses.retrieve(done.id)).status in ("queued", "in_progress"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert current.status in ("completed", "incomplete") and current.output_text is not None

    long = client.responses.create(model="tiny", input="hi", max_output_tokens=4000, background=True)
    cancelled = client.responses.cancel(long.id)
    assert cancelled.status == "cancelled"
    assert client.responses.retrieve(long.id).status == "cancelled"


def test_a_stop_sequence_ends_the_generation_where_it_appears(client, tiny_model_dir):
    from transformers import AutoTokenizer

    eos = AutoTokenizer.from_pretrained(tiny_model_dir).eos_token_id
    stops = ["e", "a", " ", "t"]
    reply = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=900, stop=stops, logit_bias={str(eos): -100}, seed=2
    )
    [choice] = reply.choices
    assert choice.finish_reason == "stop" and not any(s in (choice.message.content or "") for s in stops)
    assert reply.usage is not None and reply.usage.completion_tokens < 100  # stopped, not run to 900
