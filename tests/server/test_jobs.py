"""An RFT job end to end through the official ``openai`` client: upload, create, poll, read, chat."""

from __future__ import annotations

import io
from pathlib import Path
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
    client: openai.OpenAI,
    *,
    rows: int = 8,
    grader: dict[str, Any] = MULTI,
    extra_body: dict[str, Any] | None = None,
    **hyperparameters: Any,
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
        extra_body=extra_body,
    )


def lenient(served: Running) -> openai.OpenAI:
    """Jobs with multi graders, and paused jobs: see ``Running.lenient_client``."""
    return served.lenient_client()  # type: ignore[no-any-return]


@pytest.mark.slow
def test_an_rft_job_runs_to_a_model_that_answers(served: Running, tiny_model_dir: Path) -> None:
    client = lenient(served)  # the job's grader is a multi grader
    job = create_job(client, n_epochs=None)  # null: chosen by the server, as "auto"
    assert job.object == "fine_tuning.job" and job.status == "queued"  # as created, however fast the worker
    assert job.method.type == "reinforcement"

    done = wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id), lambda j: j.status in FINISHED)
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    assert done.status == "succeeded", [e.message for e in events]
    assert done.fine_tuned_model and done.fine_tuned_model.startswith("ft:")
    assert done.finished_at and done.finished_at >= done.created_at

    # Outputs: the results file, the tokens trained on, usage, resolved hyperparameters.
    [results] = done.result_files
    table = client.files.content(results).text.splitlines()
    assert table[0].startswith("step,train_mean_reward,full_valid_mean_reward,completion_tokens_mean,")
    assert [line.split(",")[0] for line in table[1:]] == ["1", "2", "3", "4"]
    assert client.files.retrieve(results).purpose == "fine-tune-results"
    assert done.trained_tokens and done.trained_tokens > 0
    assert done.model_extra and done.model_extra["usage_metrics"]["steps"] == 4
    assert done.estimated_finish is None  # finished
    assert done.hyperparameters.n_epochs == 3 and done.hyperparameters.batch_size == 2  # resolved, given
    assert done.method and done.method.reinforcement.hyperparameters.n_epochs == 3  # type: ignore[union-attr]

    # No server path in any field the client sees.
    for event in events:
        shown = event.model_dump_json()
        assert str(served.data_dir) not in shown and str(tiny_model_dir) not in shown, shown
    assert sum(e.message.startswith("Job failed") for e in events) == 0

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

    # Deleting a checkpoint and the fine-tuned model frees their files; they are gone everywhere.
    paths = {m.id: Path(m.path) for m in served.store.models(None)}
    gone = (checkpoints[0].fine_tuned_model_checkpoint, done.fine_tuned_model)
    for name in gone:
        deleted = client.models.delete(name)
        assert deleted.id == name and deleted.deleted is True
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve(name)
    still_used = {path for name, path in paths.items() if name not in gone}
    assert all(not paths[name].exists() for name in gone if paths[name] not in still_used)
    assert checkpoints[0].id not in {c.id for c in client.fine_tuning.jobs.checkpoints.list(job.id).data}
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model=done.fine_tuned_model, messages=[{"role": "user", "content": "x"}]
        )


FINISHED = ("succeeded", "failed", "cancelled")


def test_a_job_can_be_paused_resumed_and_cancelled(served: Running) -> None:
    client = lenient(served)  # "paused" is OpenAI's answer, not in its SDK's status enum
    job = create_job(client)
    wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id), lambda j: j.status == "running")
    paused = client.fine_tuning.jobs.pause(job.id)
    assert paused.id == job.id
    wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id), lambda j: j.status == "paused")
    resumed = client.fine_tuning.jobs.resume(job.id)
    assert resumed.status in ("queued", "running")
    again = wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id), lambda j: j.status != "queued")
    if again.status == "running":  # a resume is no new attempt: only crashes count
        assert again.model_extra["openrft"]["attempts"] == 1  # type: ignore[index]
    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"
    final = wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id), lambda j: j.status in FINISHED)
    assert final.status == "cancelled" and final.fine_tuned_model is None
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.pause(job.id)  # a finished job cannot be paused


def test_bad_jobs_are_refused_before_they_exist(served: Running) -> None:
    client = lenient(served)  # the job list holds the other tests' multi-grader jobs
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


LIKE = {**STRING_CHECK, "name": "contains_a"}  # "a" is in every prompt: echoing it back pays in full


@pytest.mark.slow
def test_an_exploitable_grader_warns_by_default_and_fails_fast_when_asked(served: Running) -> None:
    client = served.client()
    warned = create_job(client, grader=LIKE, max_steps=1, eval_interval=1)
    strict = create_job(client, grader=LIKE, max_steps=1, eval_interval=1, extra_body={"preflight": "fail"})
    for job in (warned, strict):
        wait_for(lambda job=job: client.fine_tuning.jobs.retrieve(job.id), lambda j: j.status in FINISHED)
    ran = client.fine_tuning.jobs.retrieve(warned.id)
    events = [e.message for e in client.fine_tuning.jobs.list_events(warned.id, limit=100)]
    assert ran.status == "succeeded", events
    assert any("allowed although exploitable: prompt echoed back scores 1.00" in m for m in events), events
    failed = client.fine_tuning.jobs.retrieve(strict.id)
    assert failed.status == "failed" and failed.error and failed.error.code == "grader_exploitable"
    messages = [e.message for e in client.fine_tuning.jobs.list_events(strict.id, limit=100)]
    assert sum(m.startswith("Job failed") for m in messages) == 1, messages
