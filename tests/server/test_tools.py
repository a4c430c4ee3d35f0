"""Tools over the API: definitions shown through the model's template, calls in ``tool_calls`` and
``function_call`` items, ``tool_choice`` forcing one, tool turns accepted, a 400 without support."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.server.conftest import Running, run_server
from tests.tiny_models import TOOL_CHATML, build_tiny_model

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"unit": {"enum": ["c", "f"]}},
            "required": ["unit"],
        },
    },
}
ASK = [{"role": "user", "content": "the cat sat"}]


@pytest.fixture(scope="module")
def tooled(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Running]:
    tools_dir = build_tiny_model(tmp_path_factory.mktemp("tiny-tools"), chat_template=TOOL_CHATML)
    with run_server(
        tmp_path_factory.mktemp("tools-server"),
        models={"tools": str(tools_dir), "plain": str(tiny_model_dir)},
    ) as running:
        yield running


def test_a_forced_call_comes_back_in_tool_calls(tooled):
    client = tooled.client()
    reply = client.chat.completions.create(
        model="tools",
        messages=ASK,
        tools=[WEATHER],
        tool_choice="required",
        parallel_tool_calls=False,
        max_tokens=150,
    )
    [choice] = reply.choices
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = choice.message.tool_calls  # type: ignore[misc]
    assert call.type == "function" and call.function.name == "get_weather" and call.id.startswith("call_")
    assert json.loads(call.function.arguments)["unit"] in ("c", "f")

    # The call and the tool's answer go back in the history.
    history = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    follow = client.chat.completions.create(model="tools", messages=history, tools=[WEATHER], max_tokens=4)
    assert follow.choices[0].finish_reason in ("stop", "length", "tool_calls")


def test_streamed_calls_arrive_as_tool_call_deltas(tooled):
    stream = tooled.client().chat.completions.create(
        model="tools",
        messages=ASK,
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
        max_tokens=150,
        stream=True,
    )
    names, arguments, finish = [], "", None
    for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                names.append(delta.function.name)  # type: ignore[union-attr]
                arguments += delta.function.arguments or ""  # type: ignore[union-attr]
            finish = choice.finish_reason or finish
    assert names == ["get_weather"] and finish == "tool_calls"
    assert json.loads(arguments)["unit"] in ("c", "f")


def test_responses_return_function_call_items_and_take_their_outputs(tooled):
    client = tooled.client()
    flat = {"type": "function", **WEATHER["function"]}
    first = client.responses.create(
        model="tools", input="the cat sat", tools=[flat], tool_choice="required", max_output_tokens=150
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert calls and calls[0].name == "get_weather" and json.loads(calls[0].arguments)["unit"] in ("c", "f")
    second = client.responses.create(
        model="tools",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"}],
        tools=[flat],
        max_output_tokens=4,
    )
    assert second.status in ("completed", "incomplete")
    items = client.responses.input_items.list(second.id)
    assert [i.type for i in items.data] == ["function_call_output"]


def test_a_model_without_tool_support_is_a_clear_400(tooled):
    client = tooled.client()
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="plain", messages=ASK, tools=[WEATHER], max_tokens=2)
    assert caught.value.body["code"] == "tools_not_supported"  # type: ignore[index]
    assert "no tool support" in caught.value.body["message"]  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="tools",
            messages=ASK,
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "x"}},
        )
    assert caught.value.body["param"] == "tool_choice"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="tools", messages=ASK, tools=[{"type": "custom", "custom": {"name": "x"}}], max_tokens=2
        )
    assert caught.value.body["param"] == "tools[0].type"  # type: ignore[index]
