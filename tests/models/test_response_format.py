"""The one reader of ``response_format`` (chat form) and ``text.format`` (Responses form)."""

from __future__ import annotations

import re

import pytest

from openrft.errors import InvalidRequestError
from openrft.models import GenerationOptions, ResponseFormat, parse_response_format, parse_text_format

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


@pytest.mark.parametrize("value", [None, {}, {"type": "text"}])
def test_no_constraint(value):
    assert parse_response_format(value) is None
    assert GenerationOptions(response_format=value).json_schema is None


def test_json_schema_and_json_object():
    sent = {"type": "json_schema", "json_schema": {"name": "a", "strict": True, "schema": SCHEMA}}
    fmt = parse_response_format(sent)
    assert fmt is not None and fmt.json_schema == SCHEMA and fmt.wire == sent
    assert re.fullmatch(fmt.regex, '{"a":12}') and not re.fullmatch(fmt.regex, '{"a":"x"}')
    anything = parse_response_format({"type": "json_object"})
    assert anything is not None and anything.json_schema == {"type": "object"}


@pytest.mark.parametrize(
    ("value", "param"),
    [
        ({"type": "xml"}, "method.reinforcement.response_format.type"),
        (
            {"type": "json_schema", "json_schema": {"name": "x"}},
            "method.reinforcement.response_format.json_schema.schema",
        ),
        ("json", "method.reinforcement.response_format"),
    ],
)
def test_errors_name_the_field(value, param):
    with pytest.raises(InvalidRequestError) as caught:
        parse_response_format(value, "method.reinforcement.response_format")
    assert caught.value.param == param and caught.value.message.startswith(f"{param}: ")


def test_the_responses_form_becomes_the_chat_form():
    fmt = parse_text_format(
        {"format": {"type": "json_schema", "name": "out", "schema": SCHEMA, "strict": True}}
    )
    assert fmt is not None and fmt.json_schema == SCHEMA
    assert fmt.wire == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": SCHEMA, "strict": True},
    }
    assert parse_text_format({"format": {"type": "text"}}) is None and parse_text_format(None) is None
    with pytest.raises(InvalidRequestError) as caught:
        parse_text_format({"format": {"type": "json_schema", "name": "out"}})
    assert caught.value.param == "text.format.schema"


def test_a_problem_is_described_without_raising():
    assert GenerationOptions(response_format={"type": "xml"}).response_format_problem() == (
        "type: 'xml' is not one of text, json_object, json_schema"
    )
    assert GenerationOptions(response_format={"type": "json_object"}).response_format_problem() is None


def test_a_regex_is_used_as_given():
    assert ResponseFormat(pattern="[ab]+").regex == "[ab]+"
