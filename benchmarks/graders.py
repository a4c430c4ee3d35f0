"""Grades per second through openrft's batch API, next to the same scoring called in-process.

Each row grades the same (sample, item) pairs two ways in the same run (these machines are
noisy, so only same-run ratios mean much):

- **openrft**: ``grade_batch`` — templates, result objects and, for the python grader,
  the sandbox pool;
- **in-process**: the bare scoring function in a plain loop (the floor any wrapper pays on top of).

Run: ``.venv/bin/python benchmarks/graders.py [--seconds 3]``
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from openrft.graders import GraderRuntime, grade_batch, make_sample, validate_grader
from openrft.graders._string_check import check_strings
from openrft.graders._text_similarity import similarity

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
REFERENCE = "thought withdrawal"


def _pairs(n: int) -> list[tuple[str, dict[str, Any]]]:
    return [(ANSWERS[i % len(ANSWERS)], {"reference_answer": REFERENCE}) for i in range(n)]


def _rate(run_once: Callable[[], int], seconds: float) -> float:
    """Graded items per second, repeating ``run_once`` (which returns how many it graded)."""
    run_once()  # warm-up: pools started, imports done
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        done += run_once()
    return done / (time.perf_counter() - started)


def _in_process_python() -> Callable[[dict[str, Any], dict[str, Any]], float]:
    namespace: dict[str, Any] = {}
    exec(RAPIDFUZZ_SOURCE, namespace)  # the benchmark's own trusted source, for the baseline only
    return namespace["grade"]


def cases() -> list[tuple[str, dict[str, Any], Callable[[str, dict[str, Any]], float]]]:
    python_grade = _in_process_python()
    text = {"input": "{{sample.output_text}}", "reference": "{{item.reference_answer}}"}
    return [
        (
            "string_check",
            {"type": "string_check", "operation": "eq", **text},
            lambda s, item: float(check_strings("eq", s, item["reference_answer"])),
        ),
        (
            "text_similarity fuzzy_match",
            {"type": "text_similarity", "evaluation_metric": "fuzzy_match", **text},
            lambda s, item: similarity("fuzzy_match", s, item["reference_answer"]),
        ),
        (
            "text_similarity rouge_l",
            {"type": "text_similarity", "evaluation_metric": "rouge_l", **text},
            lambda s, item: similarity("rouge_l", s, item["reference_answer"]),
        ),
        (
            "python (RapidFuzz) via sandbox",
            {"type": "python", "source": RAPIDFUZZ_SOURCE},
            lambda s, item: python_grade(make_sample(s), item),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--batch", type=int, default=2000, help="pairs per grade_batch call")
    args = parser.parse_args()
    pairs = _pairs(args.batch)
    table = Table(title=f"grades/s on {platform.machine()}, {platform.python_version()}, batch {args.batch}")
    for column in ("grader", "openrft grades/s", "in-process grades/s", "openrft / in-process"):
        table.add_column(column, justify="right" if "/s" in column or "/" in column else "left")
    with GraderRuntime() as runtime:
        for label, raw, direct in cases():
            grader = validate_grader(raw, runtime=runtime)

            def through_openrft(grader: Any = grader) -> int:
                return len(grade_batch(grader, pairs, runtime=runtime))

            def in_process(direct: Callable[[str, dict[str, Any]], float] = direct) -> int:
                for sample, item in pairs:
                    direct(sample, item)
                return len(pairs)

            ours, base = _rate(through_openrft, args.seconds), _rate(in_process, args.seconds)
            table.add_row(label, f"{ours:,.0f}", f"{base:,.0f}", f"{ours / base:.3f}")
    Console().print(table)


if __name__ == "__main__":
    main()
