"""Evals over HTTP with the official client: create, list, update, delete; runs and output items."""

from __future__ import annotations

import io
import json
from typing import Any

import openai
import pytest

from tests.server.conftest import STRING_CHECK, Running, wait_for

ITEM_SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
    "required": ["question", "answer"],
}
ROWS = [{"question": f"say a {i}", "answer": "a" if i % 2 == 0 else "b"} for i in range(4)]
DONE = ("completed", "failed", "canceled")


def make_eval(client: openai.OpenAI, **extra: Any) -> Any:
    return client.evals.create(
        name="letters",
        data_source_config={"type": "custom", "item_schema": ITEM_SCHEMA, "include_sample_schema": True},
        testing_criteria=[{**STRING_CHECK, "reference": "{{item.answer}}", "operation": "eq"}],
        **extra,
    )


def test_eval_crud(served: Running) -> None:
    client = served.client()
    created = make_eval(client, metadata={"team": "qa"})
    assert created.object == "eval" and created.data_source_config.type == "custom"
    assert created.testing_criteria[0].name == "exact"
    assert client.evals.retrieve(created.id).name == "letters"
    assert created.id in {e.id for e in client.evals.list(limit=100)}
    updated = client.evals.update(created.id, name="renamed", metadata={"team": "ml"})
    assert updated.name == "renamed" and updated.metadata == {"team": "ml"}
    assert client.evals.delete(created.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.evals.retrieve(created.id)


def test_a_jsonl_run_grades_the_given_samples(served: Running) -> None:
    client = served.client()
    ev = make_eval(client)
    content = [{"item": row, "sample": {"output_text": "a"}} for row in ROWS]
    run = client.evals.runs.create(
        ev.id,
        name="given",
        data_source={"type": "jsonl", "source": {"type": "file_content", "content": content}},
    )
    assert run.status == "queued"
    done = wait_for(lambda: client.evals.runs.retrieve(run.id, eval_id=ev.id), lambda r: r.status in DONE)
    assert done.status == "completed", done.error
    assert done.result_counts.total == 4 and done.result_counts.passed == 2 and done.result_counts.failed == 2
    items = client.evals.runs.output_items.list(run.id, eval_id=ev.id, limit=100).data
    assert sorted(i.datasource_item_id for i in items) == [0, 1, 2, 3]
    by_index = {i.datasource_item_id: i for i in items}
    assert by_index[0].status == "pass" and by_index[1].status == "fail"
    assert by_index[0].results[0].score == 1.0 and by_index[1].results[0].score == 0.0
    one = client.evals.runs.output_items.retrieve(items[0].id, eval_id=ev.id, run_id=run.id)
    assert one.id == items[0].id
    failed = client.evals.runs.output_items.list(run.id, eval_id=ev.id, status="fail").data
    assert {i.datasource_item_id for i in failed} == {1, 3}


@pytest.mark.slow
def test_a_completions_run_samples_a_model_from_an_uploaded_file(served: Running) -> None:
    client = served.client()
    ev = make_eval(client)
    upload = "".join(json.dumps({"item": row}) + "\n" for row in ROWS).encode()
    # lenient for the upload only: OpenAI's server answers purpose "evals", which its SDK types refuse (§8)
    file = served.lenient_client().files.create(file=("items.jsonl", io.BytesIO(upload)), purpose="evals")
    run = client.evals.runs.create(
        ev.id,
        name="tiny",
        data_source={
            "type": "completions",
            "model": "tiny",
            "input_messages": {
                "type": "template",
                "template": [{"role": "user", "content": "{{item.question}}"}],
            },
            "source": {"type": "file_id", "id": file.id},
            "sampling_params": {"max_completion_tokens": 4, "seed": 3, "temperature": 0},
        },
    )
    done = wait_for(lambda: client.evals.runs.retrieve(run.id, eval_id=ev.id), lambda r: r.status in DONE)
    assert done.status == "completed", done.error
    assert done.result_counts.total == 4
    assert done.per_model_usage and done.per_model_usage[0].completion_tokens >= 4
    items = client.evals.runs.output_items.list(run.id, eval_id=ev.id).data
    assert all(i.sample.model == "tiny" and i.sample.output[0].content is not None for i in items)
    assert all(i.sample.input[0].content.startswith("say a") for i in items)
    listed = client.evals.runs.list(ev.id).data
    assert run.id in {r.id for r in listed}
    assert client.evals.runs.delete(run.id, eval_id=ev.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.evals.runs.retrieve(run.id, eval_id=ev.id)


def test_bad_evals_and_runs_are_refused(served: Running) -> None:
    client = served.client()
    with pytest.raises(openai.BadRequestError) as caught:
        client.evals.create(
            data_source_config={"type": "custom", "item_schema": ITEM_SCHEMA},
            testing_criteria=[{"type": "string_check", "name": "x"}],
        )
    assert str(caught.value.body["param"]).startswith("testing_criteria[0]")  # type: ignore[index]
    ev = make_eval(client)
    with pytest.raises(openai.BadRequestError) as caught:
        client.evals.runs.create(
            ev.id, data_source={"type": "completions", "source": {"type": "file_id", "id": "file-x"}}
        )
    assert caught.value.body["param"] == "data_source.source.id"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.evals.runs.create(
            "eval_nope", data_source={"type": "jsonl", "source": {"type": "file_content", "content": []}}
        )


def test_a_queued_run_is_cancelled_on_the_clients_path_and_its_fields_are_objects(server: Running) -> None:
    client = server.client()  # strict: every object-typed field must be an object, never null
    ev = make_eval(client)
    content = [{"item": row, "sample": {"output_text": "a"}} for row in ROWS]
    run = client.evals.runs.create(
        ev.id, data_source={"type": "jsonl", "source": {"type": "file_content", "content": content}}
    )
    assert run.model == "" and run.per_model_usage == [] and run.error.code == ""
    assert run.report_url.startswith(server.url + "/#/evals/")
    cancelled = client.evals.runs.cancel(run.id, eval_id=ev.id)  # POST …/runs/{id}/cancel
    assert cancelled.status == "canceled"
    assert client.evals.runs.retrieve(run.id, eval_id=ev.id).status == "canceled"
