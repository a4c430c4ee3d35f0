"""``openrft graders``: validate a grader and run it on one sample or a file of samples."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from openrft.cli._console import console
from openrft.cli._io import json_or_file, read_json_file, read_sample_pairs, text_or_file
from openrft.cli._render import histogram_table, summary_table
from openrft.errors import InvalidRequestError
from openrft.graders import (
    Grader,
    RunGraderResponse,
    grade_batch,
    run_grader,
    validate_grader,
)

graders_app = typer.Typer(help="Validate graders and run them on samples.", no_args_is_help=True)

GraderFile = Annotated[Path, typer.Argument(help="Grader JSON, in OpenAI's format.", show_default=False)]


def _load(path: Path) -> Grader:
    return validate_grader(read_json_file(path, "grader"))


@graders_app.command("validate")
def validate(grader: GraderFile) -> None:
    """Check a grader: schema, templates, the multi formula, that python sources load."""
    parsed = _load(grader)
    console.print(f"[green]✓[/] valid {parsed.describe()}", highlight=False)


def _run_many(parsed: Grader, samples: Path, out: Path | None) -> list[RunGraderResponse]:
    pairs = read_sample_pairs(samples)
    columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("grading", total=len(pairs))
        responses = grade_batch(parsed, pairs, on_result=lambda *_: progress.advance(task))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as handle:
            for index, response in enumerate(responses):
                handle.write(json.dumps({"index": index, **response.model_dump(mode="json")}) + "\n")
    return responses


@graders_app.command("run")
def run(
    grader: GraderFile,
    sample: Annotated[str | None, typer.Option(help="The model's answer, or @FILE.")] = None,
    item: Annotated[str, typer.Option(help="The dataset item as JSON, or @FILE.")] = "{}",
    samples: Annotated[Path | None, typer.Option(help='JSONL of {"sample": …, "item": …} lines.')] = None,
    out: Annotated[Path | None, typer.Option(help="With --samples: write every result here.")] = None,
) -> None:
    """Grade one sample (prints OpenAI's RunGraderResponse) or a JSONL file of samples."""
    if (sample is None) == (samples is None):
        raise InvalidRequestError("give exactly one of --sample or --samples")
    parsed = _load(grader)
    if samples is not None:
        responses = _run_many(parsed, samples, out)
        console.print(summary_table(responses))
        console.print(histogram_table([r.reward for r in responses]))
        if out is not None:
            console.print(f"results: {out}")
        return
    parsed_item = json_or_file(item, "item")
    if not isinstance(parsed_item, dict):
        raise InvalidRequestError("--item must be a JSON object")
    response = run_grader(parsed, text_or_file(sample or ""), parsed_item)
    console.print_json(response.model_dump_json())


def _read_cases(path: Path) -> list[Any]:
    from openrft.evals._judge_check import parse_case

    if not path.is_file():
        raise InvalidRequestError(f"{path}: no such file")
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidRequestError(
                f"{path}:{number}: not JSON ({exc.msg} at column {exc.colno})"
            ) from None
        cases.append(parse_case(data, f"{path}:{number}"))
    if not cases:
        raise InvalidRequestError(f"{path}: no cases")
    return cases


@graders_app.command("check")
def check(
    grader: GraderFile,
    cases: Annotated[Path, typer.Option(help='JSONL of {"item": …, "great": …, "fair": …, "poor": …}.')],
    repeats: Annotated[int, typer.Option(min=1, help="Times each candidate is graded.")] = 3,
) -> None:
    """Check a grader (a judge above all) before training with it: stable, and great > fair > poor.

    Exits with status 1 when the grader is flagged as unstable or misordering.
    """
    from openrft.evals import check_judge
    from openrft.evals._judge_check import LABELS

    parsed = _load(grader)
    report = asyncio.run(check_judge(parsed, _read_cases(cases), repeats=repeats))
    table = Table(title=f"{parsed.describe()}: {repeats} repeats per candidate")
    table.add_column("case", justify="right")
    for label in LABELS:
        table.add_column(f"{label}: mean (spread, std)", justify="right")
    table.add_column("great > fair > poor")
    for case in report["cases"]:
        cells = [
            "{mean:.3f} ({spread:.3f}, {std:.3f})".format(**case["labels"][label])
            if label in case["labels"]
            else "—"
            for label in LABELS
        ]
        table.add_row(str(case["case"] + 1), *cells, "[green]yes[/]" if case["ordered"] else "[red]no[/]")
    console.print(table)
    if report["errors"]:
        console.print(
            "[yellow]grading errors (each scored 0):[/] "
            + ", ".join(f"{flag} × {count}" for flag, count in report["errors"].items())
        )
    if report["unstable"]:
        console.print(
            f"[red]unstable:[/] scores of one candidate spread by up to {report['max_spread']:.3f} across "
            f"repeats (tolerance {report['spread_tolerance']:g})"
        )
    if report["misordering"]:
        console.print(
            f"[red]misordering:[/] {report['misordered_cases']} of {len(report['cases'])} cases break "
            f"great > fair > poor (tolerance {report['misorder_tolerance']:.0%})"
        )
    if report["flagged"]:
        raise typer.Exit(1)
    console.print("[green]the grader is stable and orders the cases as labelled[/]")
