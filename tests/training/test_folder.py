"""JobFolder, the one reader and writer of a job's files, and JobSpec, the job as given (job.json)."""

from __future__ import annotations

import json
import random

import pytest
from benchmarks.dashboard import MULTI, synthetic_metrics

from openrft.errors import InvalidRequestError
from openrft.evals import EvalRecord
from openrft.graders import validate_grader
from openrft.training import JobFolder, JobSpec, StepMetrics
from openrft.training._events import EventLog


def _metrics(steps: int) -> list[StepMetrics]:
    grader = validate_grader(MULTI, check_source=False)
    rng = random.Random(0)
    return [StepMetrics.model_validate(synthetic_metrics(s, steps, grader, rng)) for s in range(1, steps + 1)]


def test_the_spec_round_trips_and_a_bad_one_names_its_field(tmp_path):
    folder = JobFolder(tmp_path / "job")
    assert not folder.has_spec()
    with pytest.raises(InvalidRequestError, match="holds no job"):
        folder.read_spec()
    spec = JobSpec(
        model="m", train_file="t.jsonl", grader={"type": "string_check"}, hyperparameters={"lora": False}
    )
    folder.write_spec(spec)
    assert folder.read_spec() == spec
    saved = json.loads(folder.spec_path.read_text())
    # the keys job.json has always had, so that a job saved by an earlier openrft resumes
    assert {"model", "train_file", "valid_file", "grader", "grader_file", "response_format"} <= set(saved)
    folder.spec_path.write_text(json.dumps({**saved, "epochs": 2}))
    with pytest.raises(InvalidRequestError, match=r"job\.json: epochs: unknown field"):
        folder.read_spec()


def test_a_bad_hyperparameter_or_missing_data_is_one_error_before_anything_loads(tmp_path):
    spec = JobSpec(model="m", train_file=tmp_path / "missing.jsonl", grader={"type": "string_check"})
    with pytest.raises(InvalidRequestError):
        spec.config(tmp_path / "job")
    bad = spec.model_copy(update={"hyperparameters": {"batch_size": "zero"}})
    with pytest.raises(InvalidRequestError, match=r"hyperparameters\.batch_size"):
        bad.config(tmp_path / "job")


def test_metrics_are_stored_typed_and_a_rewind_drops_the_steps_after_it(tmp_path):
    folder = JobFolder(tmp_path / "job")
    log = EventLog(folder)
    for metrics in _metrics(4):
        log.metrics(metrics, f"Step {metrics.step}/4")
        log.rollouts(metrics.step, [{"prompt": "p", "completions": []}] * metrics.step)
    read = folder.metrics()
    assert [m.step for m in read] == [1, 2, 3, 4] and all(isinstance(m, StepMetrics) for m in read)
    assert read == _metrics(4)  # what was written comes back whole
    assert [e["data"] for e in folder.events()] == [m.row() for m in read]
    assert folder.rollout_steps() == [{"step": s, "count": s} for s in (1, 2, 3, 4)]
    folder.rewind(2)
    assert [m.step for m in folder.metrics()] == [1, 2]
    assert [e["data"]["step"] for e in folder.events()] == [1, 2]
    assert folder.rollouts(3) is None and len(folder.rollouts(2) or []) == 2


def test_a_line_that_is_not_a_steps_metrics_is_skipped_not_served(tmp_path):
    folder = JobFolder(tmp_path)
    first = _metrics(1)[0]
    folder.append_metrics(first)
    with folder.metrics_path.open("a") as handle:
        handle.write(json.dumps({"step": 2, "note": "not metrics"}) + "\n" + '{"step": 3, ')
    assert folder.metrics() == [first]


def test_validations_and_what_the_job_resolved_read_back(tmp_path):
    folder = JobFolder(tmp_path)
    assert folder.validation_steps() == [] and folder.validation(3) is None
    record = EvalRecord(
        model="policy",
        item_index=0,
        run=0,
        line=1,
        prompt=[{"role": "user", "content": "q"}],
        output="a",
        finish_reason="stop",
        prompt_tokens=3,
        completion_tokens=1,
        reasoning_tokens=0,
        scores={"exact": 1.0},
        passed={"exact": True},
        errors={"exact": []},
    )
    folder.write_validation(3, [record.to_json()])
    folder.write_validation(12, [record.to_json()])
    assert folder.validation_steps() == [3, 12]
    assert folder.validation(3) == [record]
    assert folder.hyperparameters() is None and folder.preflight() is None and folder.best_step() is None
    folder.write_preflight({"items": 4})
    assert folder.preflight() == {"items": 4}
