"""Milliseconds until a job page's charts are drawn: a 1,000-step job against a 10-step one.

Both jobs are written straight into a server's store (a job row, its ``metrics.jsonl`` built
by the trainer's own :func:`openrft.training._metrics.step_metrics` from synthetic grades of a
multi grader, checkpoints and events), served by ``create_app`` on loopback, and opened in
headless Chromium (Debian's ``chromium`` + ``chromedriver``, as the dashboard's tests use).

The time of one load is ``performance.now()`` (from the start of the navigation) at the first
animation frame after every chart on the page holds its uPlot canvas: it covers loading the
page, the API calls (the 1,000 metrics rows are one ``GET …/metrics``) and drawing. Each job
is loaded ``--repeats`` times, alternating; the medians and their ratio are printed. The aim
is under 1 s for 1,000 steps.

Run: ``.venv/bin/python benchmarks/dashboard.py [--steps 1000] [--baseline-steps 10] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openrft.graders import validate_grader
from openrft.graders._results import ERROR_FLAGS
from openrft.server import ServerSettings, create_app
from openrft.store import CheckpointRow, JobRow, Store, new_id, now
from openrft.training._metrics import ValidStats, step_metrics
from openrft.training._reward import StepGrades

KEY = "sk-bench-dashboard"
MULTI = {
    "type": "multi",
    "name": "a_and_exact",
    "graders": {
        "a_share": {
            "type": "python",
            "name": "a_share",
            "source": "def grade(sample, item):\n    return 0.5\n",
        },
        "exact": {
            "type": "string_check",
            "name": "exact",
            "input": "{{sample.output_text}}",
            "reference": "{{item.answer}}",
            "operation": "eq",
        },
    },
    "calculate_output": "0.9 * a_share + 0.1 * exact",
}
PROMPTS, GROUP = 4, 8
EVAL_INTERVAL = 10

# Set once every chart of the page has its canvas, then one animation frame later (drawn).
DRAWN_PROBE = """
(() => {
  const check = () => {
    if (window.__chartsDrawn) return;
    const figures = [...document.querySelectorAll("#view figure.chart")];
    const done = (f) => f.querySelector(".uplot canvas") || f.querySelector("p.muted");
    if (!figures.length || !figures.every(done)) return;
    window.__chartsDrawn = -1;
    requestAnimationFrame(() => { window.__chartsDrawn = performance.now(); });
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true });
})();
"""


def synthetic_metrics(step: int, total: int, grader: Any, rng: random.Random) -> dict[str, Any]:
    """One step's metrics row, as the trainer writes it, from grades that slowly improve."""
    n = PROMPTS * GROUP
    skill = step / total
    a_share = [min(1.0, max(0.0, rng.gauss(0.2 + 0.6 * skill, 0.15))) for _ in range(n)]
    exact = [float(rng.random() < 0.1 + 0.5 * skill) for _ in range(n)]
    errors = [[rng.choice(ERROR_FLAGS[:6])] if rng.random() < 0.02 else [] for _ in range(n)]
    grades = StepGrades(
        group_size=GROUP,
        rewards=[0.9 * a + 0.1 * e for a, e in zip(a_share, exact, strict=True)],
        sub_rewards=[{"a_share": a, "exact": e} for a, e in zip(a_share, exact, strict=True)],
        errors=errors,
        texts=["a" * rng.randint(5, 60) for _ in range(n)],
        completion_tokens=[rng.randint(5, 60) for _ in range(n)],
        reasoning_tokens=[0] * n,
        truncated=[rng.random() < 0.05 for _ in range(n)],
        latencies=[rng.uniform(0.001, 0.01) for _ in range(n)],
    )
    valid = None
    if step % EVAL_INTERVAL == 0 or step == total:
        valid = ValidStats(
            reward_mean=0.2 + 0.6 * skill + rng.gauss(0, 0.03),
            sub_reward_means={"a_share": 0.2 + 0.6 * skill, "exact": 0.1 + 0.5 * skill},
            records=16,
            completion_tokens_mean=30.0,
            seconds=1.5,
        )
    timing = {
        "sampling": rng.uniform(3, 4),
        "grading": rng.uniform(0.05, 0.1),
        "training": rng.uniform(1, 1.5),
        "eval": 1.5 if valid else 0.0,
    }
    timing["full_iteration"] = sum(timing.values())
    trl = {"loss": rng.gauss(0, 0.01), "grad_norm": rng.uniform(0.1, 1), "learning_rate": 2e-4, "kl": 0.0}
    return step_metrics(
        step=step, total_steps=total, grader=grader, grades=grades, valid=valid, timing=timing, trl_logs=trl
    ).row()


def write_job(store: Store, steps: int, grader: Any, seed: int) -> str:
    """A succeeded job of ``steps`` steps: row, metrics file, checkpoints and events."""
    rng = random.Random(seed)
    job_id = new_id("ftjob-")
    store.add(
        JobRow(
            id=job_id,
            created_at=now(),
            model="tiny",
            training_file="file-bench",
            suffix="bench",
            seed=seed,
            method={"type": "reinforcement", "reinforcement": {"grader": MULTI, "hyperparameters": {}}},
            status="succeeded",
            result_files=[],
            step=steps,
            total_steps=steps,
            finished_at=now(),
            fine_tuned_model=f"ft:tiny:openrft:bench:{job_id.removeprefix('ftjob-')}",
            project="default",
        )
    )
    rows = [synthetic_metrics(step, steps, grader, rng) for step in range(1, steps + 1)]
    folder = store.job_dir(job_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    # As the worker mirrors them: one metrics event per step carrying the step's row.
    events = [
        {
            "id": new_id("ftevent-"),
            "created_at": now(),
            "level": "info",
            "message": f"Step {row['step']}/{steps}, train mean reward={row['train_mean_reward']:.3f}",
            "type": "metrics",
            "data": row,
        }
        for row in rows
    ]
    store.add_job_events(job_id, events, source="training")
    validated = [r for r in rows if r["full_valid_mean_reward"] is not None]
    for row in sorted(validated, key=lambda r: -r["full_valid_mean_reward"])[:3]:  # the kept best three
        store.add(
            CheckpointRow(
                id=new_id("ftckpt_"),
                job_id=job_id,
                created_at=now(),
                step_number=row["step"],
                fine_tuned_model_checkpoint=f"ft:tiny:openrft:bench:{job_id[6:]}:ckpt-step-{row['step']}",
                metrics={
                    "step": row["step"],
                    "valid_reward_mean": row["full_valid_mean_reward"],
                    "train_reward_mean": row["train_mean_reward"],
                },
                path="/nonexistent",
            )
        )
    return job_id


def serve(app: Any) -> tuple[str, Any, threading.Thread]:
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server, thread


def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver")
    if driver_path is None:
        sys.exit("chromedriver is not installed (scripts/setup.sh installs chromium-driver)")
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": DRAWN_PROBE})
    return driver


def load_ms(driver: Any, url: str, job_id: str) -> tuple[float, float]:
    """(ms until the charts are drawn, ms until the last API response ended) for one fresh load."""
    driver.get("about:blank")
    driver.get(f"{url}/#/jobs/{job_id}")
    deadline = time.monotonic() + 60
    while not (drawn := driver.execute_script("return window.__chartsDrawn > 0 ? window.__chartsDrawn : 0")):
        assert time.monotonic() < deadline, "the charts were not drawn within 60 s"
        time.sleep(0.01)
    fetched = driver.execute_script(
        "const api = performance.getEntriesByType('resource').filter((r) => r.name.includes('/v1/'));"
        "return Math.max(0, ...api.map((r) => r.responseEnd));"
    )
    charts = driver.execute_script("return document.querySelectorAll('#view .uplot').length")
    assert charts >= 6, f"only {charts} charts drawn"
    return float(drawn), float(fetched or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--baseline-steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--screenshot", type=Path, help="save the long job's page here (PNG) to look at it")
    args = parser.parse_args()

    grader = validate_grader(MULTI)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(ServerSettings(data_dir=Path(tmp)), api_keys=[KEY])
        store = app.state.openrft.store
        jobs = {
            args.baseline_steps: write_job(store, args.baseline_steps, grader, seed=1),
            args.steps: write_job(store, args.steps, grader, seed=2),
        }
        size = (store.job_dir(jobs[args.steps]) / "metrics.jsonl").stat().st_size
        url, server, thread = serve(app)
        driver = browser()
        try:
            driver.get(url + "/")
            driver.execute_script("localStorage.setItem('openrft.apiKey', arguments[0])", KEY)
            for job_id in jobs.values():  # warm-up: caches, the server's first requests
                load_ms(driver, url, job_id)
            times: dict[int, list[tuple[float, float]]] = {steps: [] for steps in jobs}
            for _ in range(args.repeats):
                for steps, job_id in jobs.items():
                    times[steps].append(load_ms(driver, url, job_id))
            if args.screenshot:
                load_ms(driver, url, jobs[args.steps])
                driver.save_screenshot(str(args.screenshot))
        finally:
            driver.quit()
            server.should_exit = True
            thread.join(timeout=10)

    print(f"dashboard job page, headless Chromium, {platform.machine()} {platform.python_version()}")
    print(f"metrics.jsonl of the {args.steps}-step job: {size / 1e6:.1f} MB; median of {args.repeats} loads")
    drawn = {}
    for steps, samples in times.items():
        drawn[steps] = statistics.median(d for d, _ in samples)
        fetched = statistics.median(f for _, f in samples)
        print(
            f"  {steps:>5} steps: charts drawn at {drawn[steps]:7.1f} ms (API answered at {fetched:6.1f} ms)"
        )
    ratio = drawn[args.steps] / drawn[args.baseline_steps]
    verdict = "within" if drawn[args.steps] < 1000 else "OVER"
    print(f"  ratio {args.steps} / {args.baseline_steps} steps: {ratio:.2f}x; {verdict} the 1 s aim")


if __name__ == "__main__":
    main()
