"""The cookbook's own ``requests`` calls (seed 004, §5–§6), replayed unchanged against openrft.

Only the host changes: ``https://api.openai.com`` becomes the server's address. The server maps
the cookbook's model name to a local model (``--model o4-mini-2025-04-16=PATH``), as a team
moving off OpenAI would, so its payload is sent exactly as written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.server.conftest import Running, run_server

# The shape of the cookbook's second model grader; the rubric text is ours.
GRADER_PROMPT_2 = (
    "You compare a model's short medical answer with the reference answer. "
    "Score 1.0 for the same entity, 0.5 for a close relative, 0.0 for anything else."
)
model_grader_2 = {
    "type": "score_model",
    "name": "gpt41_score_model_2",
    "input": [
        {"role": "system", "content": GRADER_PROMPT_2},
        {
            "role": "user",
            "content": "Reference Answer: {{item.reference_answer}}. Model's Answer: {{sample.output_text}}",
        },
    ],
    "pass_threshold": 0.75,
    "model": "gpt-4.1-2025-04-14",
    "range": [0, 1],
    "sampling_params": {"seed": 42, "temperature": 0},
}


@pytest.fixture(scope="module")
def cookbook_server(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Running]:
    with run_server(
        tmp_path_factory.mktemp("cookbook"), models={"o4-mini-2025-04-16": str(tiny_model_dir)}
    ) as running:
        yield running


def _write_rows(path: Path, count: int) -> None:
    # The cookbook's convert_to_jsonl_format output: one user message and a reference_answer.
    with open(path, "w") as f:
        for i in range(count):
            json_obj = {
                "messages": [{"role": "user", "content": f"Which vitamin deficiency causes case {i}?"}],
                "reference_answer": "riboflavin",
            }
            f.write(json.dumps(json_obj) + "\n")


def test_the_cookbook_calls_work_unchanged(cookbook_server: Running, tmp_path: Path) -> None:
    api = cookbook_server.url  # stands where "https://api.openai.com" stood
    HEADERS = {"Authorization": f"Bearer {cookbook_server.key}"}

    # Validate a grader configuration for fine-tuning
    payload = {"grader": model_grader_2}
    response = requests.post(f"{api}/v1/fine_tuning/alpha/graders/validate", json=payload, headers=HEADERS)
    response.raise_for_status()
    assert response.json()["grader"]["name"] == "gpt41_score_model_2"

    def upload_file(file_path: str) -> str:
        with open(file_path, "rb") as f:
            response = requests.post(
                f"{api}/v1/files", headers=HEADERS, files={"file": f}, data={"purpose": "fine-tune"}
            )
            response.raise_for_status()
            return response.json()["id"]

    train_file, test_file = tmp_path / "train.jsonl", tmp_path / "val.jsonl"
    _write_rows(train_file, 6)
    _write_rows(test_file, 2)
    train_file_id = upload_file(str(train_file))
    test_file_id = upload_file(str(test_file))
    assert train_file_id.startswith("file-") and test_file_id.startswith("file-")

    payload = dict(
        training_file=train_file_id,
        validation_file=test_file_id,
        model="o4-mini-2025-04-16",
        suffix="medical_01_verifiable_problem_gpt41_grader",
        method=dict(
            type="reinforcement",
            reinforcement=dict(
                grader=model_grader_2,
                response_format=None,
                hyperparameters=dict(
                    compute_multiplier=1.0,
                    eval_samples=3,
                    eval_interval=5,
                    n_epochs=5,
                    reasoning_effort="medium",
                ),
            ),
        ),
        seed=42,
    )
    response = requests.post(f"{api}/v1/fine_tuning/jobs", json=payload, headers=HEADERS)
    response.raise_for_status()
    job_id = response.json().get("id")
    assert job_id and job_id.startswith("ftjob-")

    response = requests.get(f"{api}/v1/fine_tuning/jobs/{job_id}", headers=HEADERS)
    assert response.ok
    data = response.json()
    assert data["status"] == "queued" and data.get("fine_tuned_model") is None  # no worker here
    assert data["user_provided_suffix"] == payload["suffix"]
    hyper = data["method"]["reinforcement"]["hyperparameters"]
    assert hyper["eval_samples"] == 3 and hyper["reasoning_effort"] == "medium"
    assert data["seed"] == 42 and data["validation_file"] == test_file_id

    # The cookbook's error path prints response.text: a bad payload gets OpenAI's envelope.
    bad = requests.post(
        f"{api}/v1/fine_tuning/jobs", json={**payload, "training_file": "file-x"}, headers=HEADERS
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]) == {"message", "type", "param", "code"}


def test_the_cookbooks_output_item_read_finds_the_judges_answer(
    cookbook_server: Running, tiny_model_dir: Path
) -> None:
    """The evals cookbooks read a model grader's answer at ``results[0].sample["output"][0]["content"]``
    (openai-cookbook PR #2343)."""
    from openrft.config import Settings
    from openrft.server.worker._eval_run import run_eval_run

    client = cookbook_server.client()
    ev = client.evals.create(
        name="vitamins",
        data_source_config={
            "type": "custom",
            "item_schema": {"type": "object", "properties": {"reference_answer": {"type": "string"}}},
            "include_sample_schema": True,
        },
        testing_criteria=[model_grader_2],  # type: ignore[list-item]
    )
    content = [{"item": {"reference_answer": "riboflavin"}, "sample": {"output_text": "riboflavin"}}]
    run = client.evals.runs.create(
        ev.id, data_source={"type": "jsonl", "source": {"type": "file_content", "content": content}}
    )
    # What a worker does with the queued run; the cookbook's judge model is the tiny model here.
    store = cookbook_server.store
    assert store.runs.claim("cookbook-test", lease_seconds=300) == run.id
    judge = Settings(judge_models={"gpt-4.1-2025-04-14": str(tiny_model_dir)})
    run_eval_run(store, run.id, judge)
    done = client.evals.runs.retrieve(run.id, eval_id=ev.id)
    assert done.status == "completed", done.error
    assert done.report_url.startswith(cookbook_server.url)
    items = client.evals.runs.output_items.list(run.id, eval_id=ev.id).data
    result = items[0].results[0]
    judge_answer = result.sample["output"][0]["content"]  # type: ignore[index]
    assert isinstance(judge_answer, str) and judge_answer
    assert result.sample["input"][0]["content"] == GRADER_PROMPT_2  # type: ignore[index]
    # The output item's own sample is the given answer in the client's Sample shape.
    assert items[0].sample.output[0].content == "riboflavin"
