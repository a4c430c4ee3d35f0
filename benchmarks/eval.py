"""Items per second of an eval on SmolLM2-135M-Instruct on CPU: batched against one-at-a-time sampling.

The same 100 items of the ICD-10-CM example task (``examples/icd10-coding``, its grader), greedy,
``--max-tokens`` tokens per answer, run through :func:`openrft.evals.run_eval` twice in this
process after one warm-up generation (the first call of a freshly loaded model is slow):

- **one at a time**: ``batch_size=1``, one conversation per ``generate`` call;
- **batched**: ``batch_size=--batch`` conversations per left-padded ``generate`` call.

The engine grades a batch while the next one samples, so grading hides behind sampling; its cost
is shown on its own as the time to grade all the batched answers again through the grader batch
API, as a share of the batched eval's wall time.

Run: ``.venv/bin/python benchmarks/eval.py [--items 100] [--batch 16] [--max-tokens 16]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from openrft.config import Settings
from openrft.data import load_rft_jsonl
from openrft.evals import make_criterion, run_eval
from openrft.graders import GraderRuntime, grade_batch, make_sample
from openrft.models import GenerationOptions, open_backend

TASK = Path(__file__).resolve().parents[1] / "examples" / "icd10-coding"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()

    rows = (load_rft_jsonl(TASK / "train.jsonl").rows + load_rft_jsonl(TASK / "valid.jsonl", "valid").rows)[
        : args.items
    ]
    grader = json.loads((TASK / "grader.json").read_text())
    criterion = make_criterion(grader)
    options = GenerationOptions(temperature=0.0, max_tokens=args.max_tokens, seed=0)
    runtime = GraderRuntime()
    backend = open_backend("smollm2-135m-instruct", Settings())
    console = Console(width=120)
    try:
        asyncio.run(backend.sample([rows[0].messages], n=1, options=options))  # warm-up

        def timed(batch_size: int) -> tuple[float, list]:
            started = time.perf_counter()
            result = asyncio.run(
                run_eval(backend, rows, [criterion], options=options, runtime=runtime, batch_size=batch_size)
            )
            return time.perf_counter() - started, result.records

        single_s, single = timed(1)
        console.print(f"one at a time: {single_s:.1f} s")
        batched_s, batched = timed(args.batch)
        console.print(f"batched ({args.batch}): {batched_s:.1f} s")
        pairs = [(make_sample(r.output), rows[r.item_index].item) for r in batched]
        started = time.perf_counter()
        grade_batch(grader, pairs, runtime=runtime)
        grading_s = time.perf_counter() - started
    finally:
        backend.close()
        runtime.close()

    same = sum(a.output == b.output for a, b in zip(single, batched, strict=True))
    table = Table(
        title=f"{len(rows)} items, SmolLM2-135M-Instruct, greedy, {args.max_tokens} tokens "
        f"({platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads)"
    )
    for column in ("mode", "wall s", "items/s", "mean reward"):
        table.add_column(column, justify="right")
    for label, seconds, records in (
        ("one at a time", single_s, single),
        (f"batched ×{args.batch}", batched_s, batched),
    ):
        reward = sum(r.scores[criterion.name] for r in records) / len(records)
        table.add_row(label, f"{seconds:.1f}", f"{len(records) / seconds:.2f}", f"{reward:.3f}")
    console.print(table)
    console.print(f"batched / one-at-a-time throughput: [bold]{single_s / batched_s:.2f}×[/]")
    console.print(
        f"grading all {len(batched)} answers: {grading_s:.2f} s = "
        f"{100 * grading_s / batched_s:.1f}% of the batched eval's wall time"
    )
    console.print(
        f"identical answers in both modes: {same}/{len(rows)} (left padding can change greedy ties)"
    )


if __name__ == "__main__":
    main()
