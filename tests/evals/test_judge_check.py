"""`openrft graders check`: flags noisy and misordering graders, passes a good one."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import openrft

OVERLAP = {  # fraction of the reference's words found in the answer: deterministic, well ordered
    "type": "python",
    "name": "overlap",
    "source": "def grade(sample, item):\n"
    "    ref = item['reference_answer'].split()\n"
    "    out = set(sample['output_text'].split())\n"
    "    return sum(w in out for w in ref) / len(ref)\n",
}
NOISY = {
    "type": "python",
    "name": "noisy",
    "source": "import random\ndef grade(sample, item):\n    return random.random()\n",
}
SHORTER_IS_BETTER = {
    "type": "python",
    "name": "short",
    "source": "def grade(sample, item):\n    return 1.0 / (1 + len(sample['output_text']))\n",
}
CASES = [
    {
        "item": {"reference_answer": "paris is the capital of france"},
        "great": "paris is the capital of france",
        "fair": "paris is in france",
        "poor": "lyon",
    },
    {
        "item": {"reference_answer": "water boils at 100 degrees"},
        "candidates": [
            {"label": "great", "output": "water boils at 100 degrees celsius"},
            {"label": "fair", "output": "water boils when hot at 100"},
            {"label": "poor", "output": "ice"},
        ],
    },
]


def _files(tmp_path: Path, grader: dict) -> tuple[Path, Path]:
    g = tmp_path / "grader.json"
    g.write_text(json.dumps(grader))
    c = tmp_path / "cases.jsonl"
    c.write_text("".join(json.dumps(case) + "\n" for case in CASES))
    return g, c


def test_a_deterministic_well_ordered_grader_passes(tmp_path):
    g, c = _files(tmp_path, OVERLAP)
    result = openrft("graders", "check", str(g), "--cases", str(c), "--repeats", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "stable and orders the cases" in result.stdout


def test_a_noisy_grader_is_flagged_unstable(tmp_path):
    g, c = _files(tmp_path, NOISY)
    result = openrft("graders", "check", str(g), "--cases", str(c), "--repeats", "4", cwd=tmp_path)
    assert result.returncode == 1
    assert "unstable" in result.stdout


def test_a_misordering_grader_is_flagged(tmp_path):
    g, c = _files(tmp_path, SHORTER_IS_BETTER)
    result = openrft("graders", "check", str(g), "--cases", str(c), cwd=tmp_path)
    assert result.returncode == 1
    assert "misordering" in result.stdout and "unstable" not in result.stdout


def test_a_bad_cases_file_is_one_clear_line(tmp_path):
    g, _ = _files(tmp_path, OVERLAP)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(CASES[0]) + "\n" + json.dumps({"item": {}, "great": "only one"}) + "\n")
    result = openrft("graders", "check", str(g), "--cases", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert "bad.jsonl:2: a case needs at least two of great, fair, poor" in result.stderr
    assert "Traceback" not in result.stderr


async def test_check_judge_reports_means_spreads_and_orderings():
    from openrft.evals import check_judge, parse_case

    cases = [parse_case(c, f"case {k}") for k, c in enumerate(CASES)]
    good = await check_judge(OVERLAP, cases, repeats=2)
    first = good["cases"][0]["labels"]
    assert (first["great"]["mean"], first["fair"]["mean"], first["poor"]["mean"]) == (1.0, 0.5, 0.0)
    assert good["max_spread"] == 0.0 and not good["flagged"] and good["errors"] == {}
    assert all(c["ordered"] for c in good["cases"])

    noisy = await check_judge(NOISY, cases, repeats=5)
    spreads = [s["spread"] for c in noisy["cases"] for s in c["labels"].values()]
    assert noisy["max_spread"] == max(spreads) > noisy["spread_tolerance"] == 0.1
    assert all(
        s["spread"] == max(s["scores"]) - min(s["scores"])
        for c in noisy["cases"]
        for s in c["labels"].values()
    )
    assert noisy["unstable"] and noisy["flagged"]

    broken = {**OVERLAP, "source": "def grade(sample, item):\n    return 1 / 0\n"}
    failing = await check_judge(broken, cases, repeats=1)
    assert failing["errors"] == {"python_grader_runtime_error": 6} and failing["misordering"]
