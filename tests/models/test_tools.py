"""Tool calling on local models: definitions through the chat template, calls parsed from the
output, ``tool_choice`` forcing a call by constrained decoding, a clear error without support."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openrft.errors import InvalidRequestError
from openrft.models import LocalChatModel
from openrft.models._tools import HERMES, reads_tools
from tests.tiny_models import TOOL_CHATML

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "unit": {"enum": ["c", "f"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 3},
            },
            "required": ["unit", "days"],
        },
    },
}
CLOCK = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}
ASK = [{"role": "user", "content": "the cat sat"}]


@pytest.fixture(scope="module")
def tool_model(tiny_model_dir: Path) -> LocalChatModel:
    model = LocalChatModel(tiny_model_dir, device="cpu")
    model.tokenizer.chat_template = TOOL_CHATML
    return model


def test_calls_are_parsed_from_hermes_blocks():
    text = 'Let me look. <tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>\n'
    text += '<tool_call>{"name": "get_weather", "arguments": {"unit": "c"}}</tool_call>'
    content, calls = HERMES.parse(text, ["get_time", "get_weather"])
    assert content == "Let me look."
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_time", {}),
        ("get_weather", {"unit": "c"}),
    ]
    assert all(c.id.startswith("call_") for c in calls) and calls[0].id != calls[1].id
    # an unknown function or broken JSON stays text
    for kept in ('<tool_call>{"name": "rm", "arguments": {}}</tool_call>', "<tool_call>{oops}</tool_call>"):
        assert HERMES.parse(kept, ["get_time"]) == (kept, [])


def test_tools_reach_the_prompt_through_the_template(tool_model):
    prompt = tool_model.render(ASK, tools=[WEATHER])
    assert '"name": "get_weather"' in prompt and "<tools>" in prompt
    history = [
        *ASK,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "content": "noon", "tool_call_id": "c1"},
    ]
    rendered = tool_model.render(history, tools=[CLOCK])
    assert '{"name": "get_time", "arguments": {}}' in rendered and "<tool_response>\nnoon" in rendered


def test_required_and_named_tool_choice_force_a_valid_call(tool_model):
    [answers] = tool_model.generate(
        [ASK],
        n=4,
        max_tokens=80,
        temperature=1.0,
        seed=3,
        tools=[WEATHER, CLOCK],
        tool_choice="required",
        parallel_tool_calls=False,
    )
    for answer in answers:
        assert answer.finish_reason == "stop" and len(answer.tool_calls) == 1
        call = answer.tool_calls[0]
        assert call.name in ("get_weather", "get_time")
        arguments = json.loads(call.arguments)
        if call.name == "get_weather":
            assert arguments["unit"] in ("c", "f") and 1 <= arguments["days"] <= 3
    [[named]] = tool_model.generate(
        [ASK],
        max_tokens=80,
        temperature=1.0,
        tools=[WEATHER, CLOCK],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert [c.name for c in named.tool_calls][:1] == ["get_time"]


def test_tool_choice_none_hides_the_tools(tool_model):
    generation = tool_model.prepare([ASK], tools=[WEATHER], tool_choice="none")
    assert "<tools>" not in (generation.prompt_texts or [""])[0] and generation.tool_format is None


def test_a_model_without_tool_support_refuses_tools_and_tool_turns(tiny_model_dir):
    plain = LocalChatModel(tiny_model_dir, device="cpu")
    assert not reads_tools(plain.tokenizer)
    with pytest.raises(InvalidRequestError) as caught:
        plain.generate([ASK], tools=[WEATHER], max_tokens=2)
    assert caught.value.code == "tools_not_supported" and caught.value.param == "tools"
    with pytest.raises(InvalidRequestError) as caught:
        plain.generate([[*ASK, {"role": "tool", "content": "x", "tool_call_id": "1"}]], max_tokens=2)
    assert caught.value.param == "messages[1].role"
