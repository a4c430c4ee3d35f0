"""Grades per second of a RapidFuzz python grader: through the sandbox pool and in-process.

Three figures from the same run (these machines are noisy; compare within a run):

- ``sandbox``: :meth:`PythonGraderPool.grade_many` on batches of (sample, item) pairs;
- ``batch_api``: ``grade_batch`` (what evals and training call: sample coercion, result
  objects, then the same pool);
- ``in_process``: the same ``grade`` function called in a plain loop, without isolation.

Run: ``.venv/bin/python benchmarks/graders_sandbox.py [--seconds 3] [--batch 2000]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable
from typing import Any

from openrft.config import Settings
from openrft.graders import GraderRuntime, grade_batch, make_sample
from openrft.graders._python import python_pool

RAPIDFUZZ_SOURCE = """
from rapidfuzz import fuzz, utils

def grade(sample, item):
    return fuzz.token_set_ratio(sample["output_text"], item["reference_answer"],
                                processor=utils.default_process) / 100.0
"""
ANSWERS = [
    "thought withdrawal",
    "withdrawal of thought",
    "gouty arthritis",
    "toxoplasma encephalitis",
    "acute pancreatitis with necrosis",
    "the answer is thought insertion",
]


def _rate(run_once: Callable[[], int], seconds: float) -> float:
    """Items per second, repeating ``run_once`` (which returns how many it graded)."""
    run_once()  # warm-up: workers started, imports done
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        done += run_once()
    return done / (time.perf_counter() - started)


def bench_python_sandbox(seconds: float, batch: int = 2000) -> dict[str, Any]:
    """Grades/s of the RapidFuzz grader through the sandbox, the batch API, and in-process."""
    texts = [ANSWERS[i % len(ANSWERS)] for i in range(batch)]
    item = {"reference_answer": "thought withdrawal"}
    pairs = [(make_sample(text), item) for text in texts]
    namespace: dict[str, Any] = {}
    exec(RAPIDFUZZ_SOURCE, namespace)  # the benchmark's own trusted source, for the baseline only
    grade = namespace["grade"]
    grader = {"type": "python", "name": "rapidfuzz", "source": RAPIDFUZZ_SOURCE}

    with GraderRuntime(Settings()) as runtime:
        pool = python_pool(RAPIDFUZZ_SOURCE, runtime)

        def through_sandbox() -> int:
            results = asyncio.run(pool.grade_many(pairs))
            assert all(r.status == "ok" for r in results), results[0]
            return len(results)

        def through_batch_api() -> int:
            return len(grade_batch(grader, [(text, item) for text in texts], runtime=runtime))

        def in_process() -> int:
            for sample, it in pairs:
                grade(sample, it)
            return len(pairs)

        sandbox = _rate(through_sandbox, seconds)
        batch_api = _rate(through_batch_api, seconds)
        direct = _rate(in_process, seconds)
        info = {"isolation": pool.isolation, "workers": len(pool.uids)}
    return {
        "sandbox_grades_per_s": round(sandbox),
        "batch_api_grades_per_s": round(batch_api),
        "in_process_grades_per_s": round(direct),
        "sandbox_over_in_process": round(sandbox / direct, 3),
        "batch": batch,
        "cpus": os.cpu_count(),
        **info,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--batch", type=int, default=2000, help="pairs per call")
    args = parser.parse_args()
    print(json.dumps(bench_python_sandbox(args.seconds, args.batch), indent=2))


if __name__ == "__main__":
    main()
