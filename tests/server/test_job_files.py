"""A job's metrics and rollouts on the API: read through the job folder, typed in the OpenAPI document."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from benchmarks.dashboard import MULTI, synthetic_metrics

from openrft.graders import validate_grader
from openrft.store import JobRow, JobStatus, new_id, now
from openrft.training import JobFolder, StepMetrics
from tests.server.conftest import API_KEY

HEADERS = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    from fastapi.testclient import TestClient

    from openrft.server import ServerSettings, create_app

    app = create_app(ServerSettings(data_dir=tmp_path), api_keys=[API_KEY])
    with TestClient(app, base_url="http://localhost") as client:
        yield client, app.state.openrft.store


def _job(store: Any) -> str:
    job_id = new_id("ftjob-")
    store.add(
        JobRow(
            id=job_id,
            created_at=now(),
            model="tiny",
            training_file="file-x",
            seed=1,
            method={"type": "reinforcement", "reinforcement": {"grader": MULTI}},
            status=JobStatus.RUNNING,
            result_files=[],
            project="default",
        )
    )
    return job_id


def test_the_openapi_document_describes_each_steps_metrics(api):
    client, _ = api
    document = client.get("/openapi.json", headers=HEADERS).json()
    schemas = document["components"]["schemas"]
    assert schemas["JobMetrics"]["properties"]["data"]["items"] == {
        "$ref": "#/components/schemas/StepMetrics"
    }
    step = schemas["StepMetrics"]
    for key in ("step", "total_steps", "scores", "timing", "train_mean_reward", "usage", "errors"):
        assert key in step["required"], key
    assert step["properties"]["full_valid_mean_reward"]["anyOf"] == [{"type": "number"}, {"type": "null"}]
    assert "valid_reward_mean" in schemas["StepScores"]["properties"]


def test_metrics_and_rollouts_come_from_the_job_folder(api):
    client, store = api
    job_id = _job(store)
    grader = validate_grader(MULTI, check_source=False)
    rng = random.Random(0)
    folder = JobFolder(store.job_dir(job_id))
    folder.create()
    rows = [synthetic_metrics(step, 3, grader, rng) for step in (1, 2, 3)]
    for row in rows:
        folder.append_metrics(StepMetrics.model_validate(row))
        folder.append_rollouts(row["step"], [{"prompt": "p", "item": {}, "completions": []}])
    with folder.metrics_path.open("a") as handle:  # a killed writer's half line
        handle.write('{"step": 4, "total_')
    served = client.get(f"/v1/fine_tuning/jobs/{job_id}/metrics", headers=HEADERS)
    assert served.status_code == 200
    assert served.json()["data"] == json.loads(json.dumps(rows))  # every key, as training wrote it
    steps = client.get(f"/v1/fine_tuning/jobs/{job_id}/rollouts", headers=HEADERS).json()["data"]
    assert steps == [{"step": s, "count": 1} for s in (1, 2, 3)]
    groups = client.get(f"/v1/fine_tuning/jobs/{job_id}/rollouts?step=2", headers=HEADERS).json()["data"]
    assert groups == [{"prompt": "p", "item": {}, "completions": []}]
    missing = client.get(f"/v1/fine_tuning/jobs/{job_id}/rollouts?step=9", headers=HEADERS)
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "step"
