"""Every dashboard page in headless Chromium, against a real server and worker, shows the API's numbers.

A module fixture finishes a 6-step RFT job (multi grader, validation every 2 steps) and runs an
eval twice on the same items: once with the base ``tiny`` model, once with the job's ``ft:``
model. Each test opens pages by their route, checks what they show against the API, checks the
browser log for errors and saves full-page screenshots under ``test-artifacts/dashboard/``.
"""

from __future__ import annotations

import io
import json
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.dashboard.conftest import PHONE, Dashboard
from tests.server.conftest import Running, wait_for
from tests.server.test_jobs import FINISHED, create_job

pytestmark = [pytest.mark.slow, pytest.mark.needs("chromium")]

STEPS = 6
EVAL_ITEMS = [{"question": f"the dog ran {i}", "answer": "a"} for i in range(12)]
# The share of letters in an answer: the tiny random model's answers spread over [0, 1], so the
# pass counts and histograms have something to show.
LETTER_SHARE = {
    "type": "python",
    "name": "letter_share",
    "source": (
        "def grade(sample, item):\n"
        "    t = sample['output_text']\n"
        "    return sum(c.isalpha() for c in t) / max(len(t), 1)\n"
    ),
    "pass_threshold": 0.6,
}
RUN_DONE = ("completed", "failed", "canceled")
JOB_CHARTS = [
    "Reward",
    "Reward per grader",
    "Tokens per completion",
    "Step duration",
    "Grader latency",
    "Grader errors",
    "Zero-variance groups",
]


@dataclass
class World:
    server: Running
    client: Any
    """One ``openai`` client for the module, closed at its end (a dropped one leaks its sockets)."""
    job: Any
    """The finished job, as the API returns it."""
    metrics: list[dict[str, Any]]
    checkpoints: list[Any]
    eval_id: str
    runs: list[Any]
    """Two completed runs of one eval on the same items: ``tiny``, then the job's model."""

    def get(self, path: str) -> Any:
        return api_get(self.server, path)


def api_get(server: Running, path: str) -> Any:
    """``GET /v1{path}``: for openrft's own endpoints, which the ``openai`` client has no method for."""
    import httpx

    response = httpx.get(server.base_url + path, headers=server.headers, timeout=30)
    response.raise_for_status()
    return response.json()


def completions_run(client: Any, eval_id: str, file_id: str, model: str) -> Any:
    return client.evals.runs.create(
        eval_id,
        name=f"{model.split(':')[0]} run",
        data_source={
            "type": "completions",
            "model": model,
            "input_messages": {
                "type": "template",
                "template": [{"role": "user", "content": "{{item.question}}"}],
            },
            "source": {"type": "file_id", "id": file_id},
            # One seed for both models: their answers differ by the weights only.
            "sampling_params": {"max_completion_tokens": 8, "seed": 3, "temperature": 1.0},
        },
    )


@pytest.fixture(scope="module")
def world(served: Running) -> Iterator[World]:
    # lenient: the job's multi grader comes back as OpenAI's server sends it (a named map, §8)
    with served.lenient_client() as client:
        yield make_world(served, client)


def make_world(served: Running, client: Any) -> World:
    # 12 rows in batches of 2: 6 steps in one epoch, validated at steps 2, 4 and 6. A high
    # learning rate moves the fine-tune's answers away from the base model's for the comparison.
    job = create_job(client, rows=12, max_steps=STEPS, eval_interval=2, learning_rate_multiplier=100)
    job = wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id), lambda j: j.status in FINISHED)
    assert job.status == "succeeded", job.error
    ev = client.evals.create(
        name="tiny against its fine-tune",
        data_source_config={
            "type": "custom",
            "item_schema": {"type": "object", "properties": {"question": {"type": "string"}}},
            "include_sample_schema": True,
        },
        testing_criteria=[LETTER_SHARE],
    )
    upload = "".join(json.dumps({"item": row}) + "\n" for row in EVAL_ITEMS).encode()
    items = client.files.create(file=("items.jsonl", io.BytesIO(upload)), purpose="evals")
    runs = [completions_run(client, ev.id, items.id, m) for m in ("tiny", job.fine_tuned_model)]
    runs = [
        wait_for(lambda r=r: client.evals.runs.retrieve(r.id, eval_id=ev.id), lambda r: r.status in RUN_DONE)
        for r in runs
    ]
    assert all(r.status == "completed" for r in runs), [r.error for r in runs]
    return World(
        server=served,
        client=client,
        job=job,
        metrics=api_get(served, f"/fine_tuning/jobs/{job.id}/metrics")["data"],
        checkpoints=client.fine_tuning.jobs.checkpoints.list(job.id).data,
        eval_id=ev.id,
        runs=runs,
    )


@pytest.fixture(scope="module")
def dash(browser: Any, served: Running) -> Dashboard:
    dashboard = Dashboard(browser, served.url, served.key)
    dashboard.sign_in()
    dashboard.errors()  # start from an empty log
    return dashboard


def cells(row: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [td.text for td in row.find_elements(By.TAG_NAME, "td")]


def charts(view: Any) -> dict[str, Any]:
    from selenium.webdriver.common.by import By

    return {f.get_attribute("data-chart"): f for f in view.find_elements(By.CSS_SELECTOR, "figure.chart")}


def fmt(value: float) -> str:
    """How the dashboard prints rewards and scores (``fixed`` in dom.js)."""
    return f"{value:.3f}"


def test_the_jobs_list_and_job_page_show_the_jobs_numbers(world: World, dash: Dashboard) -> None:
    from selenium.webdriver.common.by import By

    job, metrics = world.job, world.metrics
    assert [m["step"] for m in metrics] == list(range(1, STEPS + 1))
    best = max(c.metrics.valid_reward_mean for c in world.checkpoints)
    assert best == max(
        m["full_valid_mean_reward"] for m in metrics if m["full_valid_mean_reward"] is not None
    )

    view = dash.open("/")
    row = view.find_element(By.CSS_SELECTOR, f"tr[data-job='{job.id}']")
    assert cells(row)[1:5] == ["succeeded", "tiny", f"{STEPS}/{STEPS}", fmt(best)]
    assert dash.errors() == []
    dash.screenshot("jobs")

    view = dash.open(f"/jobs/{job.id}", charts=len(JOB_CHARTS))
    shown = charts(view)
    assert list(shown) == JOB_CHARTS
    for name, figure in shown.items():  # every chart is drawn, with one point per step
        assert figure.find_elements(By.CSS_SELECTOR, ".uplot canvas"), name
        assert figure.get_attribute("data-points") == str(STEPS), name
    reward = dict(json.loads(shown["Reward"].get_attribute("data-last")))
    assert reward["train"] == pytest.approx(metrics[-1]["scores"]["train_reward_mean"])
    assert reward["valid"] == pytest.approx(metrics[-1]["full_valid_mean_reward"])
    per_grader = dict(json.loads(shown["Reward per grader"].get_attribute("data-last")))
    for g in metrics[-1]["scores"]["graders"]:
        assert per_grader[f"{g['name']} train"] == pytest.approx(g["train_reward_mean"])
    assert view.find_element(By.CSS_SELECTOR, "[data-metric=best-valid]").text == fmt(best)
    rows = view.find_elements(By.CSS_SELECTOR, "tr[data-checkpoint]")
    assert [int(r.get_attribute("data-checkpoint")) for r in rows] == sorted(
        c.step_number for c in world.checkpoints
    )
    best_row = view.find_element(By.CSS_SELECTOR, "tr.best")
    assert cells(best_row)[1] == fmt(best)
    assert dash.errors() == []
    dash.screenshot("job")
    dash.screenshot("job-phone", PHONE)


def test_the_rollout_inspector_shows_a_steps_groups(world: World, dash: Dashboard) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    steps = world.get(f"/fine_tuning/jobs/{world.job.id}/rollouts")["data"]
    assert [s["step"] for s in steps] == list(range(1, STEPS + 1))
    view = dash.open(f"/jobs/{world.job.id}/rollouts")
    # Pick step 3 in the step menu: the page follows the route it sets.
    before = dash.ready()
    Select(view.find_element(By.CSS_SELECTOR, "select[aria-label=step]")).select_by_value("3")
    dash.wait_rendered(before)
    assert dash.browser.execute_script("return location.hash").startswith(
        f"#/jobs/{world.job.id}/rollouts?step=3"
    )
    groups = world.get(f"/fine_tuning/jobs/{world.job.id}/rollouts?step=3")["data"]
    view = dash.browser.find_element(By.ID, "view")
    sections = view.find_elements(By.CSS_SELECTOR, "section.group")
    assert len(sections) == len(groups)
    shown = [
        float(c.get_attribute("data-reward")) for c in view.find_elements(By.CSS_SELECTOR, ".completion")
    ]
    assert shown == pytest.approx([c["reward"] for g in groups for c in g["completions"]])
    assert dash.errors() == []
    dash.screenshot("rollouts")


def test_the_evals_pages_show_the_runs_counts_and_scores(world: World, dash: Dashboard) -> None:
    from selenium.webdriver.common.by import By

    client = world.client
    view = dash.open("/evals")
    for run in world.runs:
        row = view.find_element(By.CSS_SELECTOR, f"tr[data-run='{run.id}']")
        counts = run.result_counts
        assert cells(row)[2:5] == [run.model, "completed", f"{counts.passed} / {counts.total}"]
    # The job's validations are an eval with one run per validation step.
    validation = client.evals.runs.list(world.job.model_extra["eval_id"]).data
    assert len(validation) == STEPS // 2
    for run in validation:
        assert view.find_elements(By.CSS_SELECTOR, f"tr[data-run='{run.id}']")
    assert dash.errors() == []
    dash.screenshot("evals")

    view = dash.open(f"/evals/{world.job.model_extra['eval_id']}")
    assert len(view.find_elements(By.CSS_SELECTOR, "tbody tr")) >= STEPS // 2
    assert dash.errors() == []
    dash.screenshot("eval")

    run = world.runs[1]
    items = client.evals.runs.output_items.list(run.id, eval_id=world.eval_id, limit=100).data
    scores = [i.results[0].score for i in items]
    view = dash.open(f"/evals/{world.eval_id}/runs/{run.id}")
    assert view.find_element(By.CSS_SELECTOR, "[data-metric=mean]").text == fmt(statistics.fmean(scores))
    assert view.find_element(By.CSS_SELECTOR, "[data-metric=passed]").text == (
        f"{run.result_counts.passed} / {run.result_counts.total}"
    )
    histogram = charts(view)["Score distribution"]
    assert sum(json.loads(histogram.get_attribute("data-counts"))[0]) == len(items)
    criterion = cells(view.find_element(By.CSS_SELECTOR, "tr[data-criterion]"))
    assert criterion[1:3] == [str(run.result_counts.passed), str(run.result_counts.failed)]
    assert dash.errors() == []
    dash.screenshot("run")


def test_the_comparison_page_scores_each_item_of_two_runs(world: World, dash: Dashboard) -> None:
    from selenium.webdriver.common.by import By

    client = world.client
    base, tuned = (
        {
            i.datasource_item_id: i.results[0].score
            for i in client.evals.runs.output_items.list(r.id, eval_id=world.eval_id, limit=100)
        }
        for r in world.runs
    )
    deltas = [tuned[k] - base[k] for k in base]
    win, loss = sum(d > 1e-9 for d in deltas), sum(d < -1e-9 for d in deltas)

    # Tick both runs on the evals page and compare them, as a user does.
    view = dash.open("/evals")
    for run in world.runs:
        view.find_element(By.CSS_SELECTOR, f"input[value='{world.eval_id}/{run.id}']").click()
    before = dash.ready()
    view.find_element(By.CSS_SELECTOR, "form.compare-form button[type=submit]").click()
    dash.wait_rendered(before)
    view = dash.browser.find_element(By.ID, "view")
    wtl = view.find_element(By.CSS_SELECTOR, "[data-wtl]").get_attribute("data-wtl")
    assert wtl == f"{win}/{len(deltas) - win - loss}/{loss}"
    shown = charts(view)
    counts = json.loads(shown["Score distributions"].get_attribute("data-counts"))
    assert [sum(c) for c in counts] == [len(EVAL_ITEMS), len(EVAL_ITEMS)]
    assert len(view.find_elements(By.CSS_SELECTOR, "tr[data-item]")) == len(EVAL_ITEMS)
    assert dash.errors() == []
    dash.screenshot("compare")
    dash.screenshot("compare-phone", PHONE)


def test_the_grader_playground_runs_and_saves_a_grader(world: World, dash: Dashboard) -> None:
    from selenium.webdriver.common.by import By

    view = dash.open("/playground")
    view.find_element(By.CSS_SELECTOR, "button[data-action=run]").click()
    reward = dash.wait(lambda: view.find_elements(By.CSS_SELECTOR, "[data-reward]"))[0]
    # The example grader: string_check "eq" of the sample "42" against the item's "42".
    assert reward.get_attribute("data-reward") == "1" and reward.text == fmt(1)
    dash.screenshot("playground")
    view.find_element(By.CSS_SELECTOR, "input[aria-label='grader name']").send_keys("answer is 42")
    view.find_element(By.CSS_SELECTOR, "button[data-action=save]").click()
    saved = dash.wait(lambda: view.find_elements(By.CSS_SELECTOR, "[data-saved]"))[0]
    listed = world.get("/openrft/graders")["data"]
    assert {"id": saved.get_attribute("data-saved"), "name": "answer is 42"} in [
        {"id": g["id"], "name": g["name"]} for g in listed
    ]
    # Opened again (by way of another page: the same route would not re-render), the page offers
    # the saved grader.
    dash.open("/evals")
    view = dash.open("/playground")
    options = [
        o.text for o in view.find_elements(By.CSS_SELECTOR, "select[aria-label='saved graders'] option")
    ]
    assert "answer is 42" in options
    assert dash.errors() == []


def test_pause_and_resume_a_running_job_from_its_page(world: World, dash: Dashboard) -> None:
    from selenium.webdriver.common.by import By

    client = world.client
    # 8 rows in batches of 2 for 50 epochs: 200 steps, far more than this test waits for.
    job = create_job(client, rows=8, n_epochs=50, max_steps=200, eval_interval=50)
    try:
        wait_for(
            lambda: client.fine_tuning.jobs.retrieve(job.id),
            lambda j: j.status == "running" and (j.model_extra["openrft"]["step"] or 0) >= 2,
        )
        dash.open(f"/jobs/{job.id}")
        dash.click("button[data-action=pause]")  # the page re-renders every 3 s while the job is live
        wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id), lambda j: j.status == "paused", 120)
        dash.wait(lambda: dash.browser.find_elements(By.CSS_SELECTOR, "button[data-action=resume]"))
        dash.screenshot("job-paused")
        dash.click("button[data-action=resume]")
        wait_for(
            lambda: client.fine_tuning.jobs.retrieve(job.id), lambda j: j.status in ("queued", "running"), 60
        )
        dash.wait(lambda: dash.browser.find_elements(By.CSS_SELECTOR, "button[data-action=pause]"))
        assert dash.errors() == []
    finally:
        client.fine_tuning.jobs.cancel(job.id)
        wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id), lambda j: j.status in FINISHED, 120)
