"""Does RFT with the default hyperparameters learn, task after task? Base → fine-tuned on held-out items.

For every example task in ``examples/`` (a folder with ``grader.json``, ``train.jsonl`` and
``valid.jsonl``, plus ``response_format.json`` when the task decodes under a schema):

1. the validation file is split: its first ``--select-items`` items are the job's validation
   set (they pick the best checkpoint), the rest (``--test-items`` of them) are held out;
2. a job trains the model with every hyperparameter left at ``"auto"``, only ``max_steps`` set
   to the step budget (``--set key=value`` tries another rule on every task);
3. the base model and the best checkpoint answer the held-out items greedily (one run, the job's
   completion length, under the task's schema) through :func:`openrft.evals.evaluate`, and the
   paired comparison says whether the gain is more than noise (bootstrap interval, Wilcoxon).

Each task runs in its own process, so its wall time and peak memory (the largest resident set
of the process, model and training included) are its own. The table goes to the terminal,
``OUT/learning.json`` and ``OUT/learning.md`` (ready for docs/training.md).

Run: ``.venv/bin/python benchmarks/learning.py --steps 24 --out runs/learning`` (the full
measurement takes the CPU for about an hour: run it on a quiet machine). A quick check of the
script itself: ``--tasks clinical-scores --steps 1 --select-items 2 --test-items 4
--skip-preflight``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXAMPLES = ROOT / "examples"
EVAL_BATCH = 16
"""Held-out items sampled at once."""


def tasks(names: list[str] | None) -> list[Path]:
    """The example task folders (all of them, or the ones named)."""
    found = sorted(
        p
        for p in EXAMPLES.iterdir()
        if all((p / f).is_file() for f in ("grader.json", "train.jsonl", "valid.jsonl"))
    )
    if names:
        unknown = sorted(set(names) - {p.name for p in found})
        if unknown:
            raise SystemExit(
                f"unknown task(s): {', '.join(unknown)} (known: {', '.join(p.name for p in found)})"
            )
        found = [p for p in found if p.name in names]
    return found


def _split(task: Path, out: Path, select_items: int, test_items: int | None) -> tuple[Path, Path]:
    lines = (task / "valid.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    if len(lines) <= select_items:
        raise SystemExit(f"{task.name}: {len(lines)} validation items, fewer than --select-items + 1")
    held_out = lines[select_items:]
    select, test = out / "select.jsonl", out / "test.jsonl"
    select.write_text("".join(lines[:select_items]), encoding="utf-8")
    test.write_text("".join(held_out[:test_items] if test_items else held_out), encoding="utf-8")
    return select, test


def _peak_gb() -> float:
    """The largest resident set of this process or any child it waited for (Linux: KiB)."""
    usage = [resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return max(usage) / 1024**2


def run_task(task: Path, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Train one task with the defaults and compare base and fine-tuned on its held-out items."""
    from openrft.data import load_rft_jsonl
    from openrft.errors import OpenRFTError
    from openrft.evals import evaluate, make_criterion
    from openrft.models import GenerationOptions
    from openrft.training import TrainConfig, parse_hyperparameters, parse_overrides, run_training

    out.mkdir(parents=True, exist_ok=True)
    select, test = _split(task, out, args.select_items, args.test_items)
    grader = json.loads((task / "grader.json").read_text())
    schema_file = task / "response_format.json"
    response_format = json.loads(schema_file.read_text()) if schema_file.is_file() else None
    hp = parse_hyperparameters({"max_steps": args.steps, **parse_overrides(args.set or [])})
    config = TrainConfig(
        model=args.model,
        train_file=task / "train.jsonl",
        grader=grader,
        out_dir=out / "job",
        valid_file=select,
        hyperparameters=hp,
        response_format=response_format,
        preflight=not args.skip_preflight,
    )
    row: dict[str, Any] = {"task": task.name, "steps": args.steps}
    started = time.perf_counter()

    def show(event: dict[str, Any]) -> None:
        if event["type"] == "metrics" or event["level"] != "info" or event["message"].startswith("Preflight"):
            print(f"[{task.name}] {event['message']}", flush=True)

    try:
        result = run_training(config, on_event=show)
    except OpenRFTError as exc:  # a refused job (an exploitable grader, bad data) is a result too
        return {
            **row,
            "error": exc.message,
            "minutes": (time.perf_counter() - started) / 60,
            "peak_gb": _peak_gb(),
        }
    trained = time.perf_counter()
    resolved = result.hyperparameters
    options = GenerationOptions(
        temperature=0.0, max_tokens=resolved.max_completion_length, seed=0, response_format=response_format
    )
    summary = evaluate(
        {"base": args.model, "fine-tuned": str(result.best_checkpoint)},
        load_rft_jsonl(test, split="valid").rows,
        [make_criterion(grader)],
        data=test,
        out=out / "eval",
        runs=1,
        options=options,
        batch_size=EVAL_BATCH,
        auto_reuse=False,
        title=f"benchmarks/learning.py: {task.name}",
    )
    models, [comparison] = summary["models"], summary["comparisons"]
    criterion = grader.get("name") or next(iter(models["base"]["criteria"]))
    every = [m["criteria"][criterion].get("all_sub_graders_pass_rate") for m in models.values()]
    return {
        **row,
        "hyperparameters": json.loads(json.dumps(resolved.__dict__)),
        "best_step": result.best_step,
        "held_out_items": comparison["items"],
        "base": models["base"]["mean"],
        "fine_tuned": models["fine-tuned"]["mean"],
        "every_part_right": every if None not in every else None,
        "truncated": [m["truncated_fraction"] for m in models.values()],
        "win_tie_loss": [comparison["win"], comparison["tie"], comparison["loss"]],
        "significance": comparison["significance"],
        "train_minutes": (trained - started) / 60,
        "minutes": (time.perf_counter() - started) / 60,
        "peak_gb": _peak_gb(),
    }


def _child(task: Path, args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Run one task in its own process (its own wall time and peak memory) and read its result."""
    result_file = args.out / task.name / "result.json"
    result_file.unlink(missing_ok=True)
    command = [sys.executable, __file__, *argv, "--one", task.name]
    started = time.perf_counter()
    code = subprocess.run(command, cwd=ROOT).returncode
    if code or not result_file.is_file():
        why = "killed by SIGKILL: out of memory?" if code == -9 else f"exit {code}"
        return {
            "task": task.name,
            "steps": args.steps,
            "error": f"the task's process failed ({why})",
            "minutes": (time.perf_counter() - started) / 60,
        }
    return json.loads(result_file.read_text())


def _cells(row: dict[str, Any]) -> list[str]:
    if "error" in row:
        return [
            row["task"],
            str(row["steps"]),
            "—",
            "—",
            "—",
            row["error"][:120],
            f"{row.get('minutes', 0):.1f}",
            "—",
        ]
    s = row["significance"]
    interval = "—" if s["ci_low"] is None else f"[{s['ci_low']:+.3f}, {s['ci_high']:+.3f}]"
    verdict = "gain" if s["significant"] and s["ci_low"] > 0 else "loss" if s["significant"] else "not shown"
    every = row["every_part_right"]
    every_text = "" if every is None else f" (all parts {every[0]:.0%} → {every[1]:.0%})"
    return [
        row["task"],
        f"{row['steps']} (best {row['best_step']})",
        f"{row['base']:.3f} → {row['fine_tuned']:.3f}{every_text}",
        f"{s['mean_delta']:+.3f} {interval}",
        "/".join(map(str, row["win_tie_loss"])),
        f"{verdict} (Wilcoxon p {s['wilcoxon_p']:.2g}, {row['held_out_items']} items)",
        f"{row['minutes']:.1f}",
        f"{row['peak_gb']:.1f}",
    ]


HEADERS = [
    "task",
    "steps",
    "held-out mean, base → fine-tuned",
    "Δ [95% CI]",
    "win/tie/loss",
    "verdict",
    "minutes",
    "peak GB",
]


def _markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct", help="base model (docs/models.md)")
    parser.add_argument("--steps", type=int, default=24, help="step budget per task (max_steps)")
    parser.add_argument("--tasks", nargs="*", help="task folder names in examples/ (default: all)")
    parser.add_argument(
        "--select-items", type=int, default=16, help="validation items that pick the checkpoint"
    )
    parser.add_argument("--test-items", type=int, default=None, help="held-out items (default: the rest)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="a hyperparameter for every task")
    parser.add_argument("--skip-preflight", action="store_true", help="no preflight (quick checks only)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "learning")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one task in this process
    args = parser.parse_args()
    args.out = args.out.resolve()

    if args.one:
        import warnings

        warnings.filterwarnings("ignore", category=FutureWarning)
        [task] = tasks([args.one])
        row = run_task(task, args.out / task.name, args)
        (args.out / task.name / "result.json").write_text(json.dumps(row, indent=1) + "\n")
        return

    console = Console(width=None if sys.stdout.isatty() else 160)  # a log file gets the whole table
    argv = sys.argv[1:]
    rows = []
    for task in tasks(args.tasks):
        console.rule(f"{task.name}: {args.steps} steps of {args.model}, default hyperparameters")
        rows.append(_child(task, args, argv))
    table = Table(title=f"RFT with default hyperparameters: {args.model}, held-out items, greedy")
    for header in HEADERS:
        table.add_column(header, justify="left" if header in ("task", "verdict") else "right")
    for row in rows:
        table.add_row(*_cells(row))
    console.print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "learning.json").write_text(json.dumps(rows, indent=1) + "\n")
    (args.out / "learning.md").write_text(_markdown(rows))
    console.print(
        f"wrote {args.out / 'learning.json'}, {args.out / 'learning.md'}; "
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
