"""``openrft train``: one RFT job (GRPO on TRL) with a live view of its steps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.live import Live
from rich.table import Table

from openrft.cli._app import console
from openrft.cli._io import read_json_file
from openrft.errors import InvalidRequestError


def steps_table(rows: list[dict[str, Any]], total: int | None, title: str = "GRPO") -> Table:
    """The live view of a job: its last steps' rewards, zero-variance share, errors and time."""
    table = Table(title=f"{title}: step {len(rows)}/{total or '?'}")
    for column in ("step", "train reward", "valid reward", "zero-variance", "grader errors", "seconds"):
        table.add_column(column, justify="right")
    for m in rows[-12:]:
        valid = m["scores"].get("valid_reward_mean")
        table.add_row(
            str(m["step"]),
            f"{m['train_mean_reward']:.3f}",
            "" if valid is None else f"{valid:.3f}",
            f"{m['zero_variance_group_fraction']:.0%}",
            f"{m['grader_error_rate']:.0%}",
            f"{m['timing']['step']['full_iteration']:.1f}",
        )
    return table


def train_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Base model (see docs/models.md).")] = "",
    train: Annotated[Path | None, typer.Option("--train", help="Training RFT JSONL.")] = None,
    valid: Annotated[Path | None, typer.Option("--valid", help="Validation RFT JSONL.")] = None,
    grader: Annotated[Path | None, typer.Option("--grader", help="Grader JSON (the reward).")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Job folder: events, metrics, checkpoints.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Hyperparameter key=value (docs/training.md); repeatable."),
    ] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue the job in this folder.")] = None,
) -> None:
    """Fine-tune a model with GRPO, the grader's score as the reward."""
    from openrft.training import Hyperparameters, TrainConfig, parse_overrides, run_training

    if resume is not None:
        saved = resume / "job.json"
        if not saved.is_file():
            raise InvalidRequestError(f"{resume} holds no job (job.json is missing)", param="resume")
        spec = json.loads(saved.read_text())
        out = resume
    else:
        missing = [
            name
            for name, v in (("--model", model), ("--train", train), ("--grader", grader), ("--out", out))
            if not v
        ]
        if missing:
            raise InvalidRequestError(f"missing {', '.join(missing)} (or use --resume DIR)")
        spec = {
            "model": model,
            "train_file": str(train),
            "valid_file": str(valid) if valid else None,
            "grader": read_json_file(grader, "grader"),  # type: ignore[arg-type]
            "hyperparameters": parse_overrides(set_ or []),
        }
        assert out is not None
        out.mkdir(parents=True, exist_ok=True)
        (out / "job.json").write_text(json.dumps(spec, indent=2) + "\n")
    try:
        hp = Hyperparameters(**spec["hyperparameters"])
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"][:1])
        raise InvalidRequestError(
            f"hyperparameters.{field}: {first.get('input')!r} is not valid ({first['msg']})",
            param="hyperparameters",
        ) from None
    from openrft.data import load_rft_jsonl

    load_rft_jsonl(Path(spec["train_file"]), split="train")  # every problem reported before training starts
    if spec["valid_file"]:
        load_rft_jsonl(Path(spec["valid_file"]), split="valid")
    config = TrainConfig(
        model=spec["model"],
        train_file=Path(spec["train_file"]),
        valid_file=Path(spec["valid_file"]) if spec["valid_file"] else None,
        grader=spec["grader"],
        out_dir=out,  # type: ignore[arg-type]
        hyperparameters=hp,
    )
    rows: list[dict[str, Any]] = []
    with Live(steps_table(rows, None), console=console, refresh_per_second=4) as live:

        def on_event(event: dict[str, Any]) -> None:
            if event["type"] == "metrics":
                rows.append(event["data"])
                live.update(steps_table(rows, event["data"]["total_steps"]))
            elif event["level"] != "info":
                console.print(f"[yellow]{event['message']}[/]")

        result = run_training(config, on_event=on_event)
    console.print(f"job {result.status}; best checkpoint: {result.best_checkpoint} (step {result.best_step})")
