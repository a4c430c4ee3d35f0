"""Two CPU jobs side by side: each with torch's default threads (every core), against the cores
split between them (what ``openrft serve --workers N`` gives its executors on a machine with
more than one worker).

Each job is its own process, as a worker's executor is, running one GRPO-shaped step of
SmolLM2-135M-Instruct: sampling 16 completions of up to 64 tokens from triage-style prompts,
then a forward and backward pass over them. Both layouts run the same work twice at once, in
alternation over ``--repeats``; the headline is the ratio of their wall times, measured in the
same run.

Run: ``.venv/bin/python benchmarks/worker_threads.py`` (about 5 minutes on two cores).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPT = (
    "Triage note: 54-year-old, pulse 88, BP 132/84, breathing 18 a minute, temperature 37.2 C. "
    "Give the age, heart rate, systolic and diastolic pressure and respiratory rate as JSON."
)


def one_step() -> None:
    """The work of one job: sample a step's completions, then one forward and backward pass."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from openrft.config import DEFAULT_LOCAL_MODEL, Settings
    from openrft.models import resolve_model_path

    torch.manual_seed(0)
    path = resolve_model_path(DEFAULT_LOCAL_MODEL, Settings().cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    text = tokenizer.apply_chat_template([{"role": "user", "content": PROMPT}], tokenize=False)
    batch = tokenizer([text] * 16, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=64, min_new_tokens=64, do_sample=True, temperature=0.7)
    loss = model(input_ids=out, labels=out).loss
    loss.backward()


def run_pair(threads: int | None) -> float:
    """Wall seconds for two jobs started together; ``threads`` is each one's OMP_NUM_THREADS."""
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    started = time.perf_counter()
    jobs = [subprocess.Popen([sys.executable, __file__, "--one"], env=env) for _ in range(2)]
    for job in jobs:
        if job.wait() != 0:
            raise SystemExit(f"a job failed with exit code {job.returncode}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # internal: one job
    args = parser.parse_args()
    if args.one:
        one_step()
        return
    from openrft.server.worker._process import executor_threads

    os.environ.pop("OMP_NUM_THREADS", None)  # both layouts start from torch's own choice
    cores = os.cpu_count() or 1
    share = executor_threads(2) or 1  # the server's rule for two workers
    layouts = {f"default threads ({cores} each)": None, f"split ({share} each)": share}
    walls: dict[str, list[float]] = {name: [] for name in layouts}
    console = Console()
    for k in range(args.repeats):
        for name, threads in layouts.items():
            with console.status(f"{name}, run {k + 1}/{args.repeats}"):
                walls[name].append(run_pair(threads))
    table = Table(title="two SmolLM2 jobs at once: wall seconds for both")
    for column in ("threads per job", "median (s)", "runs (s)"):
        table.add_column(column, justify="right")
    for name, runs in walls.items():
        table.add_row(name, f"{statistics.median(runs):.1f}", ", ".join(f"{w:.1f}" for w in runs))
    console.print(table)
    default, split = (statistics.median(runs) for runs in walls.values())
    console.print(f"ratio default / split: [bold]{default / split:.2f}[/] (above 1: splitting is faster)")
    console.print(f"machine: {platform.processor() or platform.machine()}, {cores} cores")


if __name__ == "__main__":
    main()
