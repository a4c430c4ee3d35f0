"""``openrft eval``: measure one or more models on a dataset with graders, several runs per item.

The command parses its options, calls :func:`openrft.evals.evaluate` (which owns the eval folder)
and renders the summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from openrft.cli._console import console
from openrft.cli._io import read_json_file
from openrft.cli._render import comparison_lines, histograms_table
from openrft.errors import InvalidRequestError
from openrft.evals import EvalFolder, evaluate, make_criteria
from openrft.graders import validate_grader
from openrft.models import GenerationOptions


@contextmanager
def eval_progress() -> Iterator[Callable[[str, str, int, int], None]]:
    """A progress bar per model and stage (loading, sampling, grading), fed by ``evaluate``."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[tuple[str, str], Any] = {}
    labels = {"sampled": "sampling", "graded": "grading"}

    def update(model: str, stage: str, done: int, total: int) -> None:
        if stage == "loading":
            tasks[(model, stage)] = progress.add_task(f"{model}: loading", total=None)
            return
        loading = tasks.pop((model, "loading"), None)
        if loading is not None:
            progress.remove_task(loading)
        if (model, stage) not in tasks:
            tasks[(model, stage)] = progress.add_task(f"{model}: {labels[stage]}", total=total)
        progress.update(tasks[(model, stage)], completed=done)

    with progress:
        yield update


def print_summary(summary: dict[str, Any]) -> None:
    """The eval's summary: per model (named in full), per criterion, readiness, comparisons, histograms."""
    for model, s in summary["models"].items():
        console.rule(style="dim")
        console.print(f"[bold]{model}[/]", highlight=False, soft_wrap=True)
        console.print(
            f"  mean {s['mean']:.3f} ± {s['std_across_runs']:.3f} (std across runs) · "
            f"pass rate {s['pass_rate']:.1%} · errored {s['errored_records']} / {s['records']}",
            highlight=False,
            soft_wrap=True,
        )
        tokens = s["tokens"]
        reasoning = f", reasoning {tokens['reasoning_mean']:.1f}" if tokens["reasoning_mean"] else ""
        console.print(
            f"  tokens per answer {tokens['completion_mean']:.1f} (prompt {tokens['prompt_mean']:.1f}"
            f"{reasoning}); {s['truncated_fraction']:.0%} cut off by --max-tokens",
            highlight=False,
            soft_wrap=True,
        )
        _print_criteria(s)
        raised = {flag: n for flag, n in s["errors"].items() if n}
        if raised:
            console.print("  [red]errors:[/] " + ", ".join(f"{k} × {v}" for k, v in raised.items()))
        verdict = s["readiness"]["verdict"]
        style = {True: "green", False: "red"}.get(s["readiness"]["ready"], "yellow")
        console.print(f"  [{style}]RFT readiness: {verdict}[/]", highlight=False, soft_wrap=True)
    console.rule(style="dim")
    for comparison in summary["comparisons"]:
        for line in comparison_lines(comparison, {}):
            console.print(line, highlight=False, soft_wrap=True)
    console.print(histograms_table(summary, width=console.width))


def _print_criteria(model_summary: dict[str, Any]) -> None:
    for name, c in model_summary["criteria"].items():
        line = (
            f"  {name}: mean {c['mean']:.3f} ± {c['std_across_runs']:.3f}, "
            f"pass rate {c['pass_rate']:.1%} (threshold {c['pass_threshold']:g})"
        )
        if "all_sub_graders_pass_rate" in c:
            line += f", every sub-grader passed {c['all_sub_graders_pass_rate']:.1%}"
        console.print(line, highlight=False, soft_wrap=True)
        if c["sub_means"]:
            subs = ", ".join(f"{sub} {mean:.3f}" for sub, mean in c["sub_means"].items())
            console.print(f"    sub-graders: {subs}", highlight=False, soft_wrap=True)


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
    reuse: Annotated[
        list[Path] | None,
        typer.Option(
            "--reuse", help="An earlier eval folder whose answers to reuse where they match; repeatable."
        ),
    ] = None,
    no_reuse: Annotated[
        bool, typer.Option("--no-reuse", help="Do not look for reusable answers in the folders beside --out.")
    ] = False,
) -> None:
    """Sample every item --runs times per model, grade the answers, and write a report.

    Re-running with the same --out continues an interrupted eval where it stopped. A model's
    answers from an earlier eval (--reuse DIR, or a folder beside --out) are reused when the
    model, data, graders and sampling settings are the same.
    """
    from openrft.data import load_rft_jsonl

    models = [model, *(compare or [])]
    repeated = sorted({m for m in models if models.count(m) > 1})
    if repeated:
        raise InvalidRequestError(f"--model/--compare name {', '.join(map(repr, repeated))} more than once")
    folder = EvalFolder(out)
    for path in reuse or []:
        if not (path / "config.json").is_file():
            raise InvalidRequestError(f"--reuse {path}: not an eval folder (no config.json)", param="reuse")
    criteria = make_criteria([validate_grader(read_json_file(g, "grader")) for g in grader], pass_threshold)
    rows = load_rft_jsonl(data, split="train").rows
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
    with eval_progress() as on_progress:
        summary = evaluate(
            {m: m for m in models},
            rows,
            criteria,
            data=data,
            out=out,
            runs=runs,
            options=options,
            limit=limit,
            reuse=reuse or [],
            auto_reuse=not no_reuse,
            on_progress=on_progress,
            notify=lambda message: console.print(message, highlight=False, soft_wrap=True),
        )
    print_summary(summary)
    console.print(
        f"wrote {folder.results_path}, {folder.summary_path}, {folder.report_path}",
        highlight=False,
        soft_wrap=True,
    )
