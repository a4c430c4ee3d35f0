"""Seconds per GRPO step: an ``openrft train`` job against a plain TRL ``GRPOTrainer`` script.

Both run in this process, one after the other (alternating when ``--repeats`` > 1), on the
same model, data, seed and ``GRPOConfig`` (the one the job builds), so only same-run ratios
are compared:

- **openrft**: :func:`openrft.training.run_training`: the grader in the sandbox pool as the
  reward, metrics, rollouts and events written every step, atomic checkpoints, validation
  at the last step (the preflight is off: it runs once, before the first step);
- **TRL**: ``GRPOTrainer`` with the same scoring as an in-process Python function, nothing else.

A step's time is the wall time between two consecutive steps' logs, so checkpoint and
validation time land in the steps that have them; the median step is the headline and the
ratio's aim is <= 1.10.

Run: ``.venv/bin/python benchmarks/train.py --model tiny --steps 30`` (a random 2-layer model
built in code, ~0.1 s steps: the fixed cost per step shows) or ``--model smollm2 --steps 6``
(SmolLM2-135M-Instruct, LoRA, 2 prompts × 8 completions × 24 tokens: a real step, ~10 s).

``--demo DIR`` runs ``openrft demo --out DIR`` instead (about 14 minutes on 2 cores) and prints
its wall time and the held-out scores before → after, read back from ``DIR/summary.json``.
``--demo DIR --train-seeds 0,1,2`` runs it once per training seed on the same task and held-out
items (``DIR/train-seed-K``) and prints each run's interval and the mean and spread over seeds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openrft.config import Settings
from openrft.training import Hyperparameters, TrainConfig, resolve, run_training

A_SHARE = """
def grade(sample, item):
    text = sample["output_text"].replace(" ", "")
    return text.count("a") / len(text) if text else 0.0
"""
ONE_WORD = """
import re

def grade(sample, item):
    text = sample["output_text"].strip()
    if re.fullmatch(r"[a-z]+\\.?", text):
        return 1.0
    return 0.5 / max(1, len(text.split()))
"""
CATEGORIES = ["a color", "an animal", "a fruit", "a vegetable", "a country", "a metal", "a tree", "a bird"]


def _setup(kind: str, root: Path) -> tuple[str, str, list[dict[str, Any]], dict[str, Any]]:
    """(model, grader source, rows, hyperparameters) for one benchmark kind."""
    if kind == "tiny":
        from tests.tiny_models import build_tiny_model

        model = str(build_tiny_model(root / "tiny"))
        rows = [{"messages": [{"role": "user", "content": f"the dog ran {i}"}]} for i in range(32)]
        hp = dict(lora=False, batch_size=4, learning_rate_multiplier=300, max_completion_length=16)
        return model, A_SHARE, rows, hp
    rows = [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": f"Name {c}. Answer with exactly one lowercase word."},
            ]
        }
        for c in CATEGORIES
    ]
    hp = dict(lora=True, batch_size=2, max_completion_length=24)
    return "smollm2-135m-instruct", ONE_WORD, rows, hp


def _step_times(stamps: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(stamps)]


def run_openrft(model: str, source: str, train: Path, hp: Hyperparameters, out: Path) -> dict[str, Any]:
    stamps: list[float] = []
    grader = {"type": "python", "name": "reward", "source": source}
    config = TrainConfig(model=model, train_file=train, grader=grader, out_dir=out, hyperparameters=hp)
    config.valid_file, config.preflight = train, False
    started = time.perf_counter()
    run_training(config, on_event=lambda e: e["type"] == "metrics" and stamps.append(time.perf_counter()))
    return {"steps": _step_times(stamps), "wall": time.perf_counter() - started}


def run_trl(model: str, source: str, train: Path, hp: Hyperparameters, out: Path) -> dict[str, Any]:
    """The plain script: load, reward function, GRPOTrainer, train."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback, set_seed
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOTrainer

    from openrft.models import resolve_model_path
    from openrft.training._runner import _grpo_config

    started = time.perf_counter()
    path = resolve_model_path(model, Settings().cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    policy = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    scope: dict[str, Any] = {}
    exec(source, scope)  # the same scoring, in-process

    def reward(prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
        return [scope["grade"]({"output_text": c[-1]["content"]}, {}) for c in completions]

    stamps: list[float] = []

    class Stamp(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            stamps.append(time.perf_counter())

    rows = [json.loads(line) for line in train.read_text().splitlines()]
    resolved = resolve(hp, len(rows), model, gpu=torch.cuda.is_available())  # the job's own rules
    set_seed(hp.seed)
    lora = (
        LoraConfig(r=hp.lora_rank, lora_alpha=2 * hp.lora_rank, target_modules="all-linear")
        if hp.lora
        else None
    )
    trainer = GRPOTrainer(
        model=policy,
        processing_class=tokenizer,
        reward_funcs=[reward],
        args=_grpo_config(resolved, hp, out, 1),
        train_dataset=Dataset.from_list([{"prompt": r["messages"]} for r in rows]),
        peft_config=lora,
        callbacks=[Stamp()],
    )
    trainer.remove_callback(PrinterCallback)  # as the job does: no log dicts on stdout
    trainer.train()
    return {"steps": _step_times(stamps[:-1]), "wall": time.perf_counter() - started}  # last log: summary


def run_demo(out: Path, train_seed: int | None = None) -> dict[str, Any]:
    """Time ``openrft demo`` and print its held-out before → after from the summary it writes."""
    import subprocess

    console = Console()
    seed_args = [] if train_seed is None else ["--train-seed", str(train_seed)]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "openrft.cli", "demo", "--out", str(out), *seed_args], check=True)
    wall = time.perf_counter() - started
    summary = json.loads((out / "summary.json").read_text())
    table = Table(title=f"openrft demo: held-out items, before → after ({wall / 60:.1f} min wall)")
    for column in ("", "base", "fine-tuned"):
        table.add_column(column, justify="right")
    models = [summary["models"]["base"], summary["models"]["fine-tuned"]]
    table.add_row("mean reward", *(f"{m['mean']:.3f}" for m in models))
    table.add_row("pass rate", *(f"{m['pass_rate']:.1%}" for m in models))
    for criterion in models[0]["criteria"]:
        for sub in models[0]["criteria"][criterion]["sub_means"]:
            table.add_row(f"  {sub}", *(f"{m['criteria'][criterion]['sub_means'][sub]:.1%}" for m in models))
    console.print(table)
    c = summary["comparisons"][0]
    console.print(f"per item: win {c['win']} · tie {c['tie']} · loss {c['loss']} on {c['items']} items")
    return {"summary": summary, "wall": wall}


def run_demo_seeds(out: Path, train_seeds: list[int]) -> None:
    """The demo once per training seed, on the same task and held-out items (the task's seed stays
    0), then the spread: one 14-step run moves by up to 0.1 with the training seed alone."""
    console = Console(width=max(Console().width, 100))  # a log file gets 80 columns: the CIs would wrap
    runs = {k: run_demo(out / f"train-seed-{k}", k) for k in train_seeds}
    table = Table(title=f"openrft demo over {len(runs)} training seeds: held-out mean reward")
    for column in ("training seed", "best step", "base", "fine-tuned", "Δ [95% CI]", "win/tie/loss", "min"):
        table.add_column(column, justify="right")
    tuned = []
    for k, run in runs.items():
        c = run["summary"]["comparisons"][0]
        stats = c["significance"]
        best = json.loads((out / f"train-seed-{k}" / "job" / "best" / "openrft-checkpoint.json").read_text())
        tuned.append(stats["other_mean"])
        table.add_row(
            str(k),
            str(best["step"]),
            f"{stats['base_mean']:.3f}",
            f"{stats['other_mean']:.3f}",
            f"{stats['mean_delta']:+.3f} [{stats['ci_low']:+.3f}, {stats['ci_high']:+.3f}]",
            f"{c['win']}/{c['tie']}/{c['loss']}",
            f"{run['wall'] / 60:.1f}",
        )
    console.print(table)
    spread = statistics.stdev(tuned) if len(tuned) > 1 else 0.0
    console.print(
        f"fine-tuned over training seeds {', '.join(map(str, runs))}: mean {statistics.fmean(tuned):.3f}, "
        f"sd {spread:.3f}, range {min(tuned):.3f}-{max(tuned):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["tiny", "smollm2"], default="tiny")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=1, help="alternate the two this many times")
    parser.add_argument("--demo", type=Path, metavar="DIR", help="run `openrft demo --out DIR` instead")
    parser.add_argument(
        "--train-seeds",
        type=lambda text: [int(k) for k in text.split(",")],
        metavar="K,K,...",
        help="with --demo: one demo per training seed (same task) into DIR/train-seed-K, and their spread",
    )
    args = parser.parse_args()
    if args.demo and args.train_seeds:
        run_demo_seeds(args.demo, args.train_seeds)
        return
    if args.demo:
        run_demo(args.demo)
        return

    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    console = Console()
    root = Path(tempfile.mkdtemp(prefix="openrft-bench-train-"))
    model, source, rows, extra = _setup(args.model, root)
    train = root / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    hp = Hyperparameters(max_steps=args.steps, eval_interval=args.steps, n_epochs=50, seed=0, **extra)
    results: dict[str, list[dict[str, Any]]] = {"TRL GRPOTrainer": [], "openrft train": []}
    for k in range(args.repeats):
        for name, run in (("TRL GRPOTrainer", run_trl), ("openrft train", run_openrft)):
            with console.status(f"{name}, run {k + 1}/{args.repeats}: {args.steps} steps of {args.model}"):
                results[name].append(run(model, source, train, hp, root / f"{name.split()[0]}-{k}"))

    table = Table(title=f"GRPO seconds per step: {args.model}, {args.steps} steps × {args.repeats} run(s)")
    for column in ("", "median step (s)", "mean step (s)", "steps timed", "whole run (s)"):
        table.add_column(column, justify="right")
    medians = {}
    for name, runs in results.items():
        steps = [s for r in runs for s in r["steps"]]
        medians[name] = statistics.median(steps)
        walls = ", ".join(f"{r['wall']:.1f}" for r in runs)
        table.add_row(name, f"{medians[name]:.3f}", f"{statistics.fmean(steps):.3f}", str(len(steps)), walls)
    console.print(table)
    ratio = medians["openrft train"] / medians["TRL GRPOTrainer"]
    console.print(f"ratio openrft / TRL (median step): [bold]{ratio:.3f}[/] (aim <= 1.10)")
    console.print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
