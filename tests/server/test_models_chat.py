"""Models, chat completions (plain, streamed, n=2, JSON schema) and responses on the tiny model."""

from __future__ import annotations

import json

import openai
import pytest
from openai.types import Model
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

HELLO = [{"role": "developer", "content": "Answer briefly."}, {"role": "user", "content": "the cat sat"}]


def test_models_list_and_retrieve(client):
    listed = client.models.list()
    ids = [m.id for m in listed.data]
    assert "tiny" in ids and all(isinstance(m, Model) for m in listed.data)
    assert client.models.retrieve("tiny").owned_by == "openrft"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-nope")
    assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]


def test_chat_completion_plain_and_n2(client):
    reply = client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=8, temperature=0, seed=1)
    assert isinstance(reply, ChatCompletion) and reply.object == "chat.completion"
    [choice] = reply.choices
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    usage = reply.usage
    assert usage is not None and usage.prompt_tokens > 0 and 0 < usage.completion_tokens <= 8
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert (
        usage.completion_tokens_details is not None and usage.completion_tokens_details.reasoning_tokens == 0
    )
    again = client.chat.completions.create(
        model="tiny", messages=HELLO, max_completion_tokens=8, temperature=0, seed=1
    )
    assert again.choices[0].message.content == choice.message.content  # greedy is deterministic

    two = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=6, n=2, temperature=1.0, seed=3
    )
    assert [c.index for c in two.choices] == [0, 1]
    assert all(isinstance(c.message.content, str) for c in two.choices)
    # One prompt, two answers: the prompt is counted once, the completions of both.
    assert two.usage is not None and two.usage.prompt_tokens == reply.usage.prompt_tokens
    assert 2 <= two.usage.completion_tokens <= 12


def test_streamed_chat_matches_the_plain_answer(client):
    plain = client.chat.completions.create(model="tiny", messages=HELLO, max_tokens=10, temperature=0)
    stream = client.chat.completions.create(
        model="tiny",
        messages=HELLO,
        max_tokens=10,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, finish, usage = [], None, None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(pieces) == plain.choices[0].message.content
    assert finish == plain.choices[0].finish_reason
    assert usage is not None and usage.total_tokens == plain.usage.total_tokens  # type: ignore[union-attr]


def test_streamed_n2_keeps_choices_apart(client):
    stream = client.chat.completions.create(
        model="tiny", messages=HELLO, max_tokens=6, n=2, stream=True, seed=5
    )
    by_index: dict[int, str] = {0: "", 1: ""}
    finished = set()
    for chunk in stream:
        for choice in chunk.choices:
            by_index[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finished.add(choice.index)
    assert finished == {0, 1}


def test_json_schema_output_is_constrained(client):
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    reply = client.chat.completions.create(
        model="tiny",
        messages=HELLO,
        max_tokens=48,
        temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "out", "schema": schema}},
    )
    choice = reply.choices[0]
    if choice.finish_reason == "stop":
        assert isinstance(json.loads(choice.message.content or "")["a"], int)
    else:  # cut by max_tokens: still a prefix of the schema's JSON
        assert (choice.message.content or "").lstrip().startswith("{")


def test_responses_with_a_string_and_with_messages(client):
    first = client.responses.create(model="tiny", input="the cat sat", max_output_tokens=8, temperature=0)
    assert isinstance(first, Response) and first.object == "response"
    assert isinstance(first.output_text, str) and first.status in ("completed", "incomplete")
    assert first.usage is not None and first.usage.output_tokens > 0
    second = client.responses.create(
        model="tiny",
        instructions="Answer briefly.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "the cat sat"}]}],
        max_output_tokens=8,
        temperature=0,
    )
    assert second.output[0].type == "message" and second.instructions == "Answer briefly."


def test_bad_chat_requests_get_4xx(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=HELLO)
    assert caught.value.body["param"] == "model"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):  # a path is not a model unless registered
        client.chat.completions.create(model="/etc", messages=HELLO)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="tiny", messages=[{"role": "tool", "content": "x", "tool_call_id": "1"}]
        )
    assert caught.value.body["param"] == "messages[0].role"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny", messages=HELLO, n=0)
    assert caught.value.body["param"] == "n"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny", messages=HELLO, response_format={"type": "yaml"})  # type: ignore[typeddict-item]
    assert caught.value.body["param"] == "response_format.type"  # type: ignore[index]


def test_only_fine_tuned_models_can_be_deleted(client):
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.models.delete("tiny")
    assert caught.value.body["code"] == "model_not_deletable"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.models.delete("ft:tiny:org:nope:ftjob-x")
