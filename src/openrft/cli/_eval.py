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
from openrft.errors import InvalidRequestError
from openrft.evals import Criterion, ResultsFile, make_criteria, render_report, run_eval, summarize
from openrft.graders import validate_grader
from openrft.models import GenerationOptions


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _eval_config(
    models: list[str],
    data: Path,
    criteria: list[Criterion],
    runs: int,
    options: GenerationOptions,
    limit: int | None,
) -> dict[str, Any]:
    """What a resumed eval must match. The data file counts by content, not by path."""
    graders = [c.grader.to_wire() for c in criteria]
    return {
        "models": models,
        "data_sha256": _sha256(data.read_bytes()),
        "graders_sha256": _sha256(json.dumps(graders, sort_keys=True).encode()),
        "criteria": [
            {"name": c.name, "type": c.grader.type, "pass_threshold": c.pass_threshold} for c in criteria
        ],
        "runs": runs,
        "options": dict(vars(options)),
        "limit": limit,
    }


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


async def _run_model(
    model: str,
    rows: list[Any],
    criteria: list[Criterion],
    runs: int,
    options: GenerationOptions,
    store: ResultsFile,
) -> None:
    from openrft.models import open_backend

    with _progress() as progress:
        loading = progress.add_task(f"{model}: loading", total=None)
        backend = await asyncio.to_thread(open_backend, model)
        progress.remove_task(loading)
        labels = {"sampled": "sampling", "graded": "grading"}
        tasks = {
            stage: progress.add_task(f"{model}: {label}", total=len(rows) * runs)
            for stage, label in labels.items()
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
    columns = (
        "model",
        "mean ± std (runs)",
        "pass rate",
        "errored",
        "prompt tok.",
        "completion tok.",
        "reasoning",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "model" else "right")
    for model, s in summary["models"].items():
        table.add_row(
            model,
            f"{s['mean']:.3f} ± {s['std_across_runs']:.3f}",
            f"{s['pass_rate']:.1%}",
            f"{s['errored_records']} / {s['records']}",
            f"{s['tokens']['prompt_mean']:.1f}",
            f"{s['tokens']['completion_mean']:.1f}",
            f"{s['tokens']['reasoning_mean']:.1f}",
        )
    console.print(table)
    for model, s in summary["models"].items():
        console.print(f"[bold]{model}[/]", highlight=False)
        for name, c in s["criteria"].items():
            console.print(
                f"  {name}: mean {c['mean']:.3f} ± {c['std_across_runs']:.3f}, "
                f"pass rate {c['pass_rate']:.1%} (threshold {c['pass_threshold']:g})",
                highlight=False,
            )
            if c["sub_means"]:
                subs = ", ".join(f"{sub} {mean:.3f}" for sub, mean in c["sub_means"].items())
                console.print(f"    sub-graders: {subs}", highlight=False)
        raised = {flag: n for flag, n in s["errors"].items() if n}
        if raised:
            console.print("  [red]errors:[/] " + ", ".join(f"{k} × {v}" for k, v in raised.items()))
        verdict = s["readiness"]["verdict"]
        style = {True: "green", False: "red"}.get(s["readiness"]["ready"], "yellow")
        console.print(f"  [{style}]RFT readiness: {verdict}[/]", highlight=False)
    for c in summary["comparisons"]:
        delta = "n/a" if c["mean_delta"] is None else f"{c['mean_delta']:+.3f}"
        console.print(
            f"[bold]{c['other']}[/] against [bold]{c['base']}[/]: win {c['win']} · tie {c['tie']} · "
            f"loss {c['loss']} on {c['items']} items "
            f"(mean delta {delta}, tie within ±{c['tie_tolerance']:g})",
            highlight=False,
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
    pass_threshold: Annotated[
        float | None, typer.Option(help="Pass threshold for every criterion (default: each grader's).")
    ] = None,
    temperature: Annotated[float, typer.Option(min=0.0)] = 1.0,
    top_p: Annotated[float, typer.Option(min=0.0, max=1.0)] = 1.0,
    max_tokens: Annotated[int, typer.Option(min=1)] = 256,
    seed: Annotated[int | None, typer.Option(help="Sampling seed (batch k uses seed + k).")] = 0,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N items.")] = None,
    response_format: Annotated[
        Path | None,
        typer.Option("--response-format", help="OpenAI response_format JSON (json_schema): decode under it."),
    ] = None,
) -> None:
    """Sample every item --runs times per model, grade the answers, and write a report.

    Re-running with the same --out continues an interrupted eval where it stopped.
    """
    from openrft.data import load_rft_jsonl

    models = [model, *(compare or [])]
    repeated = sorted({m for m in models if models.count(m) > 1})
    if repeated:
        raise InvalidRequestError(f"--model/--compare name {', '.join(map(repr, repeated))} more than once")
    if out.exists() and not out.is_dir():
        raise InvalidRequestError(f"--out {out}: exists and is not a folder")
    criteria = make_criteria([validate_grader(read_json_file(g, "grader")) for g in grader], pass_threshold)
    dataset = load_rft_jsonl(data, split="train")
    rows = dataset.rows[:limit] if limit else dataset.rows
    options = GenerationOptions(
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        seed=seed,
        response_format=read_json_file(response_format, "response_format") if response_format else None,
    )
    problem = options.response_format_problem()
    if problem:
        raise InvalidRequestError(f"--response-format {response_format}: {problem}", param="response_format")
    config = _eval_config(models, data, criteria, runs, options, limit)
    with ResultsFile(out, config) as store:
        if store.records:
            console.print(f"resuming: {len(store.records)} answers already in {store.path}")
        for name in models:
            asyncio.run(_run_model(name, rows, criteria, runs, options, store))
        order = {name: k for k, name in enumerate(models)}
        records = [
            store.records[key] for key in sorted(store.records, key=lambda k: (order[k[0]], k[1], k[2]))
        ]
    summary = {**summarize(records, criteria), "config": {**config, "data": str(data)}}
    (out / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    title = f"Eval of {', '.join(models)} on {data.name}"
    (out / "report.html").write_text(render_report(summary, title=title), encoding="utf-8")
    _print_summary(summary)
    console.print(histogram_table([r.score for r in records if r.model == model]))
    console.print(f"wrote {out / 'results.jsonl'}, {out / 'summary.json'}, {out / 'report.html'}")
