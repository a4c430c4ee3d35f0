"""``openrft demo``: the main job, end to end on the embedded default model, on CPU.

task from real offline data → grader and data checks → baseline eval → preflight → GRPO
(LoRA) → the best checkpoint evaluated on the held-out items → before/after comparison.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from openrft.cli._app import console
from openrft.cli._train import steps_table
from openrft.config import DEFAULT_LOCAL_MODEL

TASK = "triage-vitals"
"""Pull five vital signs out of a triage note into JSON under a schema. Constrained decoding makes
every answer well-formed from the first step, so no format trick can raise the score: only
reading the right number for each field can. The base model gets about half the fields right and
copies a wrong number for the rest, which gives GRPO answers of different reward to compare."""
_TITLE = f"GRPO on {DEFAULT_LOCAL_MODEL} (LoRA)"
TEMPERATURE = 0.7
"""Rollout temperature (and the eval's when it samples more than one run)."""
MAX_TOKENS = 64
"""The compact JSON answer is about 41 tokens."""
EVAL_BATCH_ITEMS = 24
"""Held-out items sampled at once: 48 greedy answers take 39 s in batches of 24 and 77 s in
batches of 8 on 2 cores, with the same answers."""
SELECTION_ITEMS = 16
"""Items the job validates on to pick its best checkpoint; kept apart from the held-out test items,
so the before/after comparison is on items that chose nothing."""


def _eval(
    model: str,
    label: str,
    rows: list[Any],
    criteria: list[Any],
    *,
    runs: int,
    seed: int,
    response_format: dict[str, Any] | None,
) -> list[Any]:
    from openrft.evals import run_eval
    from openrft.models import GenerationOptions, open_backend

    backend = open_backend(model)
    # Greedy with one run: the comparison measures the models, not sampling luck; more runs sample.
    options = GenerationOptions(
        temperature=0.0 if runs == 1 else TEMPERATURE,
        max_tokens=MAX_TOKENS,
        seed=seed,
        response_format=response_format,
    )
    try:
        with console.status(f"evaluating {label} on {len(rows)} held-out items × {runs} runs"):
            result = asyncio.run(
                run_eval(
                    backend,
                    rows,
                    criteria,
                    n_runs=runs,
                    options=options,
                    model_name=label,
                    batch_size=EVAL_BATCH_ITEMS,
                )
            )
    finally:
        backend.close()
    return result.records


def _print_preflight(report: dict[str, Any], out: Any) -> None:
    base = report.get("base") or {}
    if base:
        out.print(
            f"preflight: base model reward {base['reward_mean']:.3f} on {report['items']} training prompts; "
            f"learnable prompts (answers that differ in reward) {base['learnable_fraction']:.0%}"
        )
    exploits = ", ".join(f"{name} {score:.2f}" for name, score in report["exploits"].items())
    out.print(
        f"preflight: trivial exploits score {exploits} (the job refuses one ≥ {report['exploit_limit']:.2f})"
    )


def _all_right(records: list[Any]) -> float:
    """The share of answers with every field right."""
    return sum(r.score >= 1.0 for r in records) / len(records)


def demo(
    out: Annotated[Path, typer.Option(help="Folder for the task, the job and the report.")] = Path(
        "runs/demo"
    ),
    steps: Annotated[int, typer.Option(min=1, help="GRPO steps.")] = 12,
    train_items: Annotated[int, typer.Option(min=2)] = 96,
    valid_items: Annotated[int, typer.Option(min=2, help="Held-out test items.")] = 48,
    runs: Annotated[int, typer.Option(min=1, help="Answers per held-out item in each eval (1: greedy).")] = 1,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Run the whole RFT loop on SmolLM2-135M-Instruct: baseline, preflight, training, held-out comparison."""
    from openrft.data import load_rft_jsonl
    from openrft.data.tasks import build_task
    from openrft.evals import make_criteria, render_report, summarize
    from openrft.graders import validate_grader
    from openrft.training import Hyperparameters, TrainConfig, run_training

    console.rule("1 · task")
    selection = min(SELECTION_ITEMS, valid_items)
    files = build_task(TASK, out / "task", n_train=train_items, n_valid=valid_items + selection, seed=seed)
    lines = files.valid.read_text(encoding="utf-8").splitlines(keepends=True)
    select_file, test_file = files.out_dir / "select.jsonl", files.out_dir / "test.jsonl"
    select_file.write_text("".join(lines[:selection]), encoding="utf-8")
    test_file.write_text("".join(lines[selection:]), encoding="utf-8")
    grader_json = json.loads(files.grader.read_text())
    response_format = json.loads(files.response_format.read_text()) if files.response_format else None
    grader = validate_grader(grader_json)
    train = load_rft_jsonl(files.train, split="train").rows
    valid = load_rft_jsonl(test_file, split="valid").rows
    console.print(
        f"{TASK}: {len(train)} training, {selection} checkpoint-selection and {len(valid)} held-out "
        f"test items in {files.out_dir}"
    )
    console.print(f"grader '{grader.name}' ({grader.type}) validated; data validated")

    console.rule("2 · baseline on held-out items")
    criteria = make_criteria([grader])
    base = _eval(
        DEFAULT_LOCAL_MODEL, "base", valid, criteria, runs=runs, seed=seed, response_format=response_format
    )
    base_summary = summarize(base, criteria)["models"]["base"]
    console.print(f"base: mean reward {base_summary['mean']:.3f}, every field right {_all_right(base):.1%}")
    if runs > 1:  # greedy single runs cannot show the spread; the preflight below samples instead
        console.print(f"RFT readiness: {base_summary['readiness']['verdict']}")

    console.rule("3 · preflight, then 4 · GRPO training")
    # 4 prompts × 4 answers a step: more prompts seen for the same compute as 2 × 8 (on CPU the
    # prompt tokens dominate a step's cost), and a learning rate 3× the LoRA base rate, because
    # the whole run is a couple of dozen steps.
    hp = Hyperparameters(
        lora=True,
        max_steps=steps,
        batch_size=4,
        compute_multiplier=0.5,
        learning_rate_multiplier=3.0,
        max_completion_length=MAX_TOKENS,
        eval_interval=max(1, steps // 2),
        eval_samples=1,
        temperature=TEMPERATURE,
        seed=seed,
    )
    config = TrainConfig(
        DEFAULT_LOCAL_MODEL,
        files.train,
        grader_json,
        out / "job",
        select_file,
        hp,
        response_format=response_format,
    )
    metrics: list[dict[str, Any]] = []
    with Live(steps_table(metrics, steps, _TITLE), console=console, refresh_per_second=2) as live:

        def on_event(event: dict[str, Any]) -> None:
            data = event.get("data") or {}
            if "preflight" in data:  # the job samples the base model and scores trivial exploits first
                _print_preflight(data["preflight"], live.console)
            if event["type"] == "metrics":
                metrics.append(event["data"])
                live.update(steps_table(metrics, steps, _TITLE))

        result = run_training(config, on_event=on_event)
    console.print(f"best checkpoint: step {result.best_step} → {result.best_checkpoint}")

    console.rule("5 · the fine-tuned model on the same held-out items")
    tuned = _eval(
        str(result.best_checkpoint),
        "fine-tuned",
        valid,
        criteria,
        runs=runs,
        seed=seed,
        response_format=response_format,
    )
    summary = summarize(base + tuned, criteria)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    report = out / "report.html"
    report.write_text(render_report(summary, title=f"openrft demo: {TASK}"), encoding="utf-8")
    after = summary["models"]["fine-tuned"]
    table = Table(title="held-out items, before → after")
    table.add_column("")
    table.add_column("base", justify="right")
    table.add_column("fine-tuned", justify="right")
    table.add_row("mean reward", f"{base_summary['mean']:.3f}", f"{after['mean']:.3f}")
    table.add_row("every field right", f"{_all_right(base):.1%}", f"{_all_right(tuned):.1%}")
    before_fields, after_fields = (m["criteria"][grader.name]["sub_means"] for m in (base_summary, after))
    for name, accuracy in before_fields.items():
        table.add_row(f"  {name}", f"{accuracy:.1%}", f"{after_fields[name]:.1%}")
    table.add_row("pass rate", f"{base_summary['pass_rate']:.1%}", f"{after['pass_rate']:.1%}")
    console.print(table)
    c = summary["comparisons"][0]
    console.print(
        f"per item: win {c['win']} · tie {c['tie']} · loss {c['loss']} (mean delta {c['mean_delta']:+.3f})"
    )
    console.print(f"report: {report}")
