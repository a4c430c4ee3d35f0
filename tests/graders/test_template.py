import pytest

from openrft.graders import make_sample, render
from openrft.graders._template import TemplateVariableError, template_problems

ITEM = {
    "a": {"b": ["first", {"c": 3}]},
    "n": 5,
    "flag": True,
    "messages": [{"role": "user", "content": "hi"}],
}


def _sample(text="hello", tools=None):
    return make_sample(text, output_tools=tools)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ sample.output_text }}", "hello"),
        ("{{sample.output_text}}!", "hello!"),
        ("{{item.a.b[0]}}", "first"),
        ("{{  item.a.b[1].c  }}", "3"),
        ("{{item.n}}/{{item.flag}}", "5/true"),
        ("{{item.messages}}", '[{"role":"user","content":"hi"}]'),
        ("{{item.a.b[1]}}", '{"c":3}'),
        ("no templates", "no templates"),
    ],
)
def test_render(template, expected):
    assert render(template, sample=_sample(), item=ITEM) == expected


def test_output_json_and_output_tools():
    sample = make_sample('{"x": {"y": [1, 2]}}')
    assert render("{{sample.output_json.x.y[1]}}", sample=sample, item={}) == "2"
    tools = [{"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]
    assert (
        render("{{sample.output_tools[0].function.name}}", sample=_sample(tools=tools), item={}) == "lookup"
    )


@pytest.mark.parametrize("template", ["{{item.missing}}", "{{item.a.b[7]}}", "{{item.n.deeper}}"])
def test_missing_variable_is_invalid_variable_error(template):
    with pytest.raises(TemplateVariableError) as info:
        render(template, sample=_sample(), item=ITEM)
    assert info.value.flag == "invalid_variable_error"


def test_output_json_of_non_json_answer_is_sample_parse_error():
    with pytest.raises(TemplateVariableError) as info:
        render("{{sample.output_json.x}}", sample=_sample("not json"), item={})
    assert info.value.flag == "sample_parse_error"


def test_output_json_filled_only_for_json():
    assert make_sample('{"a": 1}')["output_json"] == {"a": 1}
    assert make_sample("[1, 2]")["output_json"] == [1, 2]
    assert make_sample("42")["output_json"] is None
    assert make_sample("{broken")["output_json"] is None


def test_template_problems():
    assert template_problems("{{item.x}} and {{ sample.output_text }}") == []
    assert len(template_problems("{{other.x}} {{item.}}")) == 2
