"""``openrft data``: check an RFT dataset file and describe it; build the example tasks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from openrft.cli._console import console
from openrft.config import DEFAULT_LOCAL_MODEL, Settings
from openrft.data import DatasetReport, DatasetStats, check_rft_jsonl, compute_stats
from openrft.errors import BackendUnavailable, InvalidRequestError

data_app = typer.Typer(help="Check RFT dataset files and build the example tasks.", no_args_is_help=True)


def _tokenizer(model: str | None, chars: bool) -> tuple[Any, str | None, str | None]:
    """(tokenizer, its name, a note when lengths fall back to characters)."""
    if chars:
        return None, None, None
    from openrft.models import resolve_model_path

    name = model or DEFAULT_LOCAL_MODEL
    try:
        with console.status(f"loading the tokenizer of {name}…"):
            folder = resolve_model_path(name, Settings().cache_dir)
            from transformers import AutoTokenizer

            return AutoTokenizer.from_pretrained(folder, local_files_only=True), name, None
    except (BackendUnavailable, InvalidRequestError) as exc:
        if model is not None:  # asked for by name: its absence is the user's error to fix
            raise
        return None, None, f"{name} is not available ({exc.message}); lengths are in characters"


def _stats_table(stats: DatasetStats) -> Table:
    table = Table(title=f"statistics of {stats.rows} row(s)", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    if stats.prompt_length is not None:
        length = stats.prompt_length
        table.add_row(
            f"prompt length ({length.unit})",
            f"p50 {length.p50}  p90 {length.p90}  p99 {length.p99}  max {length.max}  mean {length.mean}",
        )
    if stats.length_note:
        table.add_row("", f"[dim]{stats.length_note}[/]")
    for name, count in stats.field_counts.items():
        table.add_row(f"item.{name}", f"{count} row(s)")
    if stats.answer_rows and stats.distinct_answers == stats.answer_rows:
        table.add_row(f"{stats.answer_field} values", f"{stats.distinct_answers} distinct (each on one row)")
    elif stats.answer_rows:
        table.add_row(f"{stats.answer_field} values", f"{stats.distinct_answers} distinct")
        for value, count in stats.top_answers:
            shown = value if len(value) <= 60 else value[:57] + "…"
            table.add_row("", f"{count:>6}  {shown}")
    return table


def _json_report(report: DatasetReport, stats: DatasetStats) -> str:
    body = {
        "path": str(report.path),
        "split": report.split,
        "valid": report.ok,
        "problems": report.problems,
        "warnings": report.warnings + stats.warnings,
        "stats": stats.to_dict(),
    }
    return json.dumps(body, indent=2, ensure_ascii=False)


@data_app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="The JSONL file, in OpenAI's RFT format.", show_default=False)],
    split: Annotated[str, typer.Option(help="train (≤ 50,000 rows) or valid (≤ 1,000).")] = "train",
    model: Annotated[
        str | None,
        typer.Option(help=f"Count prompt tokens with this model's tokenizer [{DEFAULT_LOCAL_MODEL}]."),
    ] = None,
    chars: Annotated[bool, typer.Option("--chars", help="Count characters; load no tokenizer.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable report.")] = False,
) -> None:
    """Check every line of an RFT dataset, then describe it: lengths, fields, answers."""
    report = check_rft_jsonl(file, split)
    tokenizer, name, note = _tokenizer(model, chars) if report.rows else (None, None, None)
    stats = compute_stats(report.rows, tokenizer=tokenizer, tokenizer_name=name)
    if note:
        stats.warnings.insert(0, note)
    if as_json:
        print(_json_report(report, stats))
    else:
        if report.ok:
            console.print(f"[green]✓ OK[/] {file}: {len(report.rows)} row(s), {split} split", highlight=False)
        else:
            count = len(report.problems)
            console.print(f"[red]✗ {count} problem{'s' if count != 1 else ''}[/] in {file}:", highlight=False)
            for problem in report.problems:
                console.print(f"  {problem}", highlight=False, soft_wrap=True)
        for warning in report.warnings + stats.warnings:
            console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
        if report.rows:
            console.print(_stats_table(stats))
    if not report.ok:  # every problem is printed above; the error line only gives the verdict
        count = len(report.problems)
        raise InvalidRequestError(
            f"{file} is not a valid {split} file: {count} problem{'s' if count != 1 else ''}"
        )


@data_app.command("build-task")
def build_task_command(
    name: Annotated[
        str, typer.Argument(help="humaneval, icd10-coding or clinical-scores.", show_default=False)
    ],
    out: Annotated[Path, typer.Option(help="Folder to write train/valid JSONL, grader.json, README.md.")],
    n_train: Annotated[int | None, typer.Option(min=1, help="Training rows [the task's default].")] = None,
    n_valid: Annotated[int | None, typer.Option(min=1, help="Validation rows [the task's default].")] = None,
    seed: Annotated[int, typer.Option(help="The same seed writes the same files.")] = 0,
) -> None:
    """Write an example task from its offline data package (deterministic for a seed)."""
    from openrft.data.tasks import build_task

    with console.status(f"building {name}…"):
        files = build_task(name, out, n_train=n_train, n_valid=n_valid, seed=seed)
    console.print(
        f"[green]✓[/] {name}: {files.n_train} training, {files.n_valid} validation rows in {files.out_dir}",
        highlight=False,
    )
    for path in (files.train, files.valid, files.grader, files.readme):
        console.print(f"  {path}", highlight=False)
