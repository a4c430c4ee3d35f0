"""``openrft eval``: measure one or more models on a dataset with graders, several runs per item."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from openrft.cli._app import console
from openrft.cli._io import read_json_file
from openrft.cli._render import histogram_table
from openrft.evals import Criterion, ResultsFile, make_criteria, run_eval, summarize
from openrft.graders import validate_grader
from openrft.models import GenerationOptions


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _eval_config(
    models: list[str],
    data: Path,
    graders: list[Path],
    runs: int,
    options: GenerationOptions,
    limit: int | None,
) -> dict[str, Any]:
    return {
        "models": models,
        "data": str(data),
        "data_sha256": _sha256(data),
        "graders": [read_json_file(g, "grader") for g in graders],
        "runs": runs,
        "options": {k: v for k, v in vars(options).items()},
        "limit": limit,
    }


async def _run_model(
    model: str,
    rows: list[Any],
    criteria: list[Criterion],
    runs: int,
    options: GenerationOptions,
    store: ResultsFile,
) -> None:
    from openrft.models import open_backend

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        loading = progress.add_task(f"{model}: loading", total=None)
        backend = await asyncio.to_thread(open_backend, model)
        progress.remove_task(loading)
        tasks = {
            stage: progress.add_task(f"{model}: {stage}", total=len(rows) * runs)
            for stage in ("sampled", "graded")
        }
        try:
            await run_eval(
                backend,
                rows,
                criteria,
                n_runs=runs,
                options=options,
                store=store,
                model_name=model,
                on_progress=lambda stage, done, total: progress.update(tasks[stage], completed=done),
            )
        finally:
            backend.close()


def _print_summary(summary: dict[str, Any]) -> None:
    table = Table(title="Eval summary")
    for column in ("model", "mean ± std (runs)", "pass rate", "errored", "tokens/answer", "reasoning"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for model, s in summary["models"].items():
        table.add_row(
            model,
            f"{s['mean']:.3f} ± {s['std_across_runs']:.3f}",
            f"{s['pass_rate']:.1%}",
            str(s["errored_records"]),
            f"{s['tokens']['completion_mean']:.1f}",
            f"{s['tokens']['reasoning_mean']:.1f}",
        )
    console.print(table)
    for model, s in summary["models"].items():
        for name, c in s["criteria"].items():
            console.print(f"  {model} · {name}: mean {c['mean']:.3f}, pass rate {c['pass_rate']:.1%}")
        if s["errors"]:
            console.print("  errors: " + ", ".join(f"{k} × {v}" for k, v in s["errors"].items()))
        verdict = s["readiness"]["verdict"]
        style = "green" if s["readiness"]["ready"] else "yellow"
        console.print(f"  [{style}]RFT readiness: {verdict}[/]")
    for c in summary.get("comparisons", []):
        console.print(
            f"[bold]{c['other']}[/] against [bold]{c['base']}[/]: win {c['win']} · tie {c['tie']} · "
            f"loss {c['loss']} on {c['items']} items (mean delta {c['mean_delta']:+.3f})"
        )


def eval_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Model to evaluate (see docs/models.md).")],
    data: Annotated[Path, typer.Option("--data", help="RFT JSONL: messages + item fields per line.")],
    grader: Annotated[list[Path], typer.Option("--grader", help="Grader JSON; repeat for several criteria.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for results.jsonl, summary.json, report.html.")],
    runs: Annotated[int, typer.Option("--runs", min=1, help="Answers sampled per item.")] = 3,
    compare: Annotated[
        list[str] | None, typer.Option("--compare", help="Another model on the same items; repeatable.")
    ] = None,
    pass_threshold: Annotated[float | None, typer.Option(help="Pass threshold for every criterion.")] = None,
    temperature: Annotated[float, typer.Option(min=0.0)] = 1.0,
    top_p: Annotated[float, typer.Option(min=0.0, max=1.0)] = 1.0,
    max_tokens: Annotated[int, typer.Option(min=1)] = 256,
    seed: Annotated[int | None, typer.Option(help="Sampling seed (batch k uses seed + k).")] = 0,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N items.")] = None,
) -> None:
    """Sample every item --runs times per model, grade the answers, and write a report.

    Re-running with the same --out continues an interrupted eval where it stopped.
    """
    from openrft.data import load_rft_jsonl

    dataset = load_rft_jsonl(data, split="train")
    rows = dataset.rows[:limit] if limit else dataset.rows
    criteria = make_criteria([validate_grader(read_json_file(g, "grader")) for g in grader], pass_threshold)
    options = GenerationOptions(temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed)
    models = [model, *(compare or [])]
    store = ResultsFile(out, _eval_config(models, data, grader, runs, options, limit))
    if store.records:
        console.print(f"resuming: {len(store.records)} answers already in {store.path}")
    try:
        for name in models:
            asyncio.run(_run_model(name, rows, criteria, runs, options, store))
    finally:
        store.close()
    records = [
        store.records[key] for key in sorted(store.records, key=lambda k: (models.index(k[0]), k[1], k[2]))
    ]
    summary = summarize(records, criteria)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    from openrft.evals._report import render_report

    (out / "report.html").write_text(render_report(summary, title=f"Eval of {data.name}"), encoding="utf-8")
    _print_summary(summary)
    console.print(histogram_table([r.score for r in records if r.model == model]))
    console.print(f"wrote {out / 'results.jsonl'}, {out / 'summary.json'}, {out / 'report.html'}")
