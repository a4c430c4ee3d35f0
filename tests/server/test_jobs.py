"""An RFT job end to end through the official ``openai`` client: upload, create, poll, read, chat."""

from __future__ import annotations

import io
from typing import Any

import openai
import pytest

from tests.server.conftest import STRING_CHECK, Running, rft_rows, wait_for

# Rewards the share of the letter "a" in the answer (a tiny random model learns it in a few steps),
# next to an exact check that the tiny model never passes: a multi grader with two sub-scores.
A_SHARE = {
    "type": "python",
    "name": "a_share",
    "source": (
        "def grade(sample, item):\n"
        "    text = sample['output_text']\n"
        "    return text.count('a') / max(len(text), 1)\n"
    ),
}
MULTI = {
    "type": "multi",
    "name": "a_and_exact",
    "graders": {"a_share": A_SHARE, "exact": STRING_CHECK},
    "calculate_output": "0.9 * a_share + 0.1 * exact",
}
HYPERPARAMETERS = {
    "batch_size": 2,
    "compute_multiplier": 0.5,
    "learning_rate_multiplier": 10,
    "n_epochs": 1,
    "eval_interval": 2,
    "eval_samples": 1,
    "max_completion_length": 8,
    "max_steps": 4,
}


def create_job(
    client: openai.OpenAI, *, rows: int = 8, grader: dict[str, Any] = MULTI, **hyperparameters: Any
) -> Any:
    """An RFT job on ``tiny`` over ``rows`` uploaded training rows and 2 validation rows."""
    train = client.files.create(file=("train.jsonl", io.BytesIO(rft_rows(rows))), purpose="fine-tune")
    valid = client.files.create(file=("valid.jsonl", io.BytesIO(rft_rows(2))), purpose="fine-tune")
    return client.fine_tuning.jobs.create(
        model="tiny",
        training_file=train.id,
        validation_file=valid.id,
        suffix="letters",
        seed=7,
        metadata={"team": "letters"},
        method={
            "type": "reinforcement",
            "reinforcement": {"grader": grader, "hyperparameters": {**HYPERPARAMETERS, **hyperparameters}},
        },
    )


@pytest.mark.slow
def test_an_rft_job_runs_to_a_model_that_answers(served: Running) -> None:
    client = served.client()
    job = create_job(client)
    assert job.object == "fine_tuning.job" and job.status in ("validating_files", "queued")
    assert job.method.type == "reinforcement"

    done = wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id), lambda j: j.status in FINISHED)
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    assert done.status == "succeeded", [e.message for e in events]
    assert done.fine_tuned_model and done.fine_tuned_model.startswith("ft:")
    assert done.finished_at and done.finished_at >= done.created_at

    metrics = [e.data for e in events if e.type == "metrics"]
    assert sorted(m["step"] for m in metrics) == [1, 2, 3, 4]
    last = max(metrics, key=lambda m: m["step"])
    graders = last["scores"]["graders"]
    assert {g["name"] for g in graders} == {"a_and_exact", "a_share", "exact"}
    assert last["full_valid_mean_reward"] is not None
    assert any("successfully completed" in e.message for e in events)

    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert checkpoints and all(
        c.fine_tuned_model_checkpoint.startswith(done.fine_tuned_model) for c in checkpoints
    )
    assert {c.step_number for c in checkpoints} <= {2, 4}
    assert all(c.metrics.step == c.step_number for c in checkpoints)

    # The job shows up in the list, and its metadata filter finds it.
    listed = client.fine_tuning.jobs.list(metadata={"team": "letters"}, limit=100).data
    assert job.id in {j.id for j in listed}
    assert not client.fine_tuning.jobs.list(metadata={"team": "other"}).data

    # The fine-tuned model and each checkpoint answer at once, and are listed as models.
    models = {m.id for m in client.models.list()}
    assert done.fine_tuned_model in models
    assert {c.fine_tuned_model_checkpoint for c in checkpoints} <= models
    for name in (done.fine_tuned_model, checkpoints[0].fine_tuned_model_checkpoint):
        reply = client.chat.completions.create(
            model=name, messages=[{"role": "user", "content": "the dog ran"}], max_tokens=4
        )
        assert reply.model == name and reply.choices[0].message.content is not None
        assert reply.usage.completion_tokens >= 1

    # The job's validations are an eval with one run per validation step, browsable as evals.
    assert done.model_extra and done.model_extra.get("eval_id")
    eval_id = done.model_extra["eval_id"]
    runs = client.evals.runs.list(eval_id).data
    assert len(runs) == 2 and all(r.status == "completed" for r in runs)
    items = client.evals.runs.output_items.list(runs[0].id, eval_id=eval_id).data
    assert len(items) == 2  # two validation rows, one sample each


FINISHED = ("succeeded", "failed", "cancelled")


def test_a_job_can_be_paused_resumed_and_cancelled(served: Running) -> None:
    client = served.client()
    job = create_job(client)
    paused = client.fine_tuning.jobs.pause(job.id)
    assert paused.id == job.id
    wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id), lambda j: j.status == "paused")
    resumed = client.fine_tuning.jobs.resume(job.id)
    assert resumed.status in ("queued", "running")
    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"
    final = wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id), lambda j: j.status in FINISHED)
    assert final.status == "cancelled" and final.fine_tuned_model is None
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.pause(job.id)  # a finished job cannot be paused


def test_bad_jobs_are_refused_before_they_exist(served: Running) -> None:
    client = served.client()
    before = len(client.fine_tuning.jobs.list(limit=100).data)
    train = client.files.create(file=("t.jsonl", io.BytesIO(rft_rows(4))), purpose="fine-tune")
    evals_file = client.files.create(file=("e.jsonl", io.BytesIO(rft_rows(4))), purpose="evals")
    method = {"type": "reinforcement", "reinforcement": {"grader": STRING_CHECK}}
    cases = [
        (dict(training_file="file-nope", method=method), "training_file"),
        (dict(training_file=evals_file.id, method=method), "training_file"),
        (
            dict(
                training_file=train.id,
                method={"type": "reinforcement", "reinforcement": {"grader": {"type": "string_check"}}},
            ),
            "method.reinforcement.grader",
        ),
        (dict(training_file=train.id, method={"type": "supervised"}), "method.type"),
    ]
    for kwargs, param in cases:
        with pytest.raises(openai.BadRequestError) as caught:
            client.fine_tuning.jobs.create(model="tiny", **kwargs)
        body = caught.value.body
        assert isinstance(body, dict) and str(body.get("param", "")).startswith(param), body
    with pytest.raises(openai.APIStatusError) as caught:
        client.fine_tuning.jobs.create(model="no-such-model", training_file=train.id, method=method)
    assert caught.value.status_code in (400, 404)
    assert len(client.fine_tuning.jobs.list(limit=100).data) == before
