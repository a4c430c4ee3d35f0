"""OpenAI Evals run semantics: data sources, templating, sampling params, the run's tally."""

from __future__ import annotations

import json

import pytest

from openrft.errors import InvalidRequestError
from openrft.evals import (
    GradedItem,
    criteria_of,
    data_source_config,
    grade_given_samples,
    prompt_for,
    run_outcome,
    sampling_options,
    source_rows,
)
from openrft.graders import GraderRuntime

EXACT = {
    "id": "exact-1",
    "name": "exact",
    "type": "string_check",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}


def test_file_rows_take_bare_items_and_name_a_bad_line():
    files = {"file-a": b'{"item": {"q": 1}, "sample": "x"}\n\n{"q": 2}\n'}
    rows = source_rows({"type": "file_id", "id": "file-a"}, files.__getitem__)
    assert rows == [{"item": {"q": 1}, "sample": "x"}, {"item": {"q": 2}}]
    with pytest.raises(InvalidRequestError, match="line 2: invalid JSON"):
        source_rows({"type": "file_id", "id": "f"}, lambda _: b'{"q": 1}\n{oops\n')
    with pytest.raises(InvalidRequestError, match="line 1: not a JSON object"):
        source_rows({"type": "file_id", "id": "f"}, lambda _: b"[1, 2]\n")
    content = [{"item": {"q": 3}}]
    assert source_rows({"type": "file_content", "content": content}, files.__getitem__) == content


def test_a_template_renders_the_item_and_developer_becomes_system():
    template = {
        "type": "template",
        "template": [
            {"role": "developer", "content": "Answer briefly."},
            {"role": "user", "content": [{"type": "input_text", "text": "Say {{item.word}}"}]},
        ],
    }
    assert prompt_for(template, {"word": "hi"}) == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Say hi"},
    ]


def test_an_item_reference_names_a_string_or_messages_in_the_item():
    item = {"q": "plain", "chat": {"messages": [{"role": "user", "content": "from the item"}]}}
    assert prompt_for({"type": "item_reference", "item_reference": "item.q"}, item) == [
        {"role": "user", "content": "plain"}
    ]
    nested = {"type": "item_reference", "item_reference": "item.chat.messages"}
    assert prompt_for(nested, item) == [{"role": "user", "content": "from the item"}]
    with pytest.raises(InvalidRequestError, match=r"item\.missing holds no messages"):
        prompt_for({"type": "item_reference", "item_reference": "item.missing"}, item)


def test_sampling_params_in_the_responses_form_constrain_the_output():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    options = sampling_options(
        {
            "sampling_params": {
                "temperature": 0,
                "max_completion_tokens": 7,
                "text": {"format": {"type": "json_schema", "name": "out", "schema": schema}},
            }
        }
    )
    assert (options.temperature, options.max_tokens, options.seed) == (0.0, 7, 42)
    assert options.response_format == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": schema},
    }
    assert (
        sampling_options({"sampling_params": {"response_format": {"type": "text"}}}).response_format is None
    )


def test_a_custom_config_is_returned_with_its_schema():
    config = data_source_config(
        {"type": "custom", "item_schema": {"type": "object"}, "include_sample_schema": True}
    )
    assert config["schema"]["required"] == ["item", "sample"]
    assert config["schema"]["properties"]["sample"]["required"] == ["model", "choices"]
    with pytest.raises(InvalidRequestError) as caught:
        data_source_config({"type": "nope"})
    assert caught.value.param == "data_source_config.type"


async def test_given_samples_are_graded_and_tallied_per_row_and_criterion():
    rows = [
        {"item": {"answer": "a"}, "sample": "a"},
        {"item": {"answer": "a"}, "sample": {"output_text": "b"}},
        {"item": {"answer": "b"}, "sample": "b"},
    ]
    with GraderRuntime() as runtime:
        graded = await grade_given_samples(rows, criteria_of([EXACT]), runtime)
    outcome = run_outcome([EXACT], graded, model=None)
    assert outcome.result_counts == {"total": 3, "errored": 0, "failed": 1, "passed": 2}
    assert outcome.per_testing_criteria_results == [{"testing_criteria": "exact-1", "passed": 2, "failed": 1}]
    assert outcome.per_model_usage is None
    assert [i.status for i in outcome.output_items] == ["pass", "fail", "pass"]
    assert outcome.output_items[1].results == [
        {"name": "exact", "type": "string-check-grader", "score": 0.0, "passed": False, "sample": None}
    ]
    assert outcome.output_items[0].sample == {"output_text": "a"}
    json.dumps(outcome.run_fields())  # stored as JSON as it is


def test_an_errored_row_counts_as_errored_and_its_item_fails():
    graded = [
        GradedItem({"n": 1}, None, [(1.0, True, True)], usage=(5, 2)),
        GradedItem({"n": 2}, None, [(1.0, True, False)]),
    ]
    outcome = run_outcome([EXACT], graded, model="tiny")
    assert outcome.result_counts == {"total": 2, "errored": 1, "failed": 0, "passed": 1}
    assert [i.status for i in outcome.output_items] == ["fail", "pass"]
    [usage] = outcome.per_model_usage or []
    assert (usage["model_name"], usage["invocation_count"], usage["total_tokens"]) == ("tiny", 2, 7)
