"""`openrft eval` end to end on tiny models built in code: files, report, resume, bad inputs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.test_cli import openrft
from tests.tiny_models import build_tiny_model

GRADER = {
    "type": "string_check",
    "name": "has_t",
    "input": "{{sample.output_text}}",
    "reference": "t",
    "operation": "like",
}
PYTHON = {
    "type": "python",
    "name": "short",
    "source": "def grade(sample, item):\n    return min(1.0, 4 / (1 + len(sample['output_text'])))\n",
}
ITEMS = 5
RUNS = 2


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval-cli")
    data = root / "valid.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "developer", "content": "Answer in one word."},
                        {"role": "user", "content": f"<b>the cat {i}</b>"},
                    ],
                    "reference_answer": "<script>alert(1)</script>" if i == 0 else f"cat {i}",
                }
            )
            + "\n"
            for i in range(ITEMS)
        )
    )
    (root / "grader.json").write_text(json.dumps(GRADER))
    (root / "python.json").write_text(json.dumps(PYTHON))
    return {"root": root, "data": data, "grader": root / "grader.json", "python": root / "python.json"}


@pytest.fixture(scope="module")
def other_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-other"), seed=1)


def _eval(files: dict[str, Path], model: Path, out: Path, *extra: str, python: bool = True):
    graders = ["--grader", str(files["grader"]), *(["--grader", str(files["python"])] if python else [])]
    return openrft(
        "eval",
        "--model",
        str(model),
        "--data",
        str(files["data"]),
        *graders,
        "--runs",
        str(RUNS),
        "--max-tokens",
        "8",
        "--seed",
        "3",
        "--out",
        str(out),
        *extra,
        cwd=files["root"],
    )


def _results(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_eval_writes_results_summary_and_an_offline_report(files, tiny_model_dir, other_model, tmp_path):
    out = tmp_path / "cmp"
    result = _eval(files, tiny_model_dir, out, "--compare", str(other_model))
    assert result.returncode == 0, result.stderr
    records = _results(out)
    assert len(records) == ITEMS * RUNS * 2
    keys = {(r["model"], r["item_index"], r["run"]) for r in records}
    assert keys == {
        (m, i, r) for m in (str(tiny_model_dir), str(other_model)) for i in range(ITEMS) for r in range(RUNS)
    }

    summary = json.loads((out / "summary.json").read_text())
    base = summary["models"][str(tiny_model_dir)]
    mine = [r for r in records if r["model"] == str(tiny_model_dir)]
    assert base["mean"] == pytest.approx(sum(r["score"] for r in mine) / len(mine))
    assert base["pass_rate"] == pytest.approx(sum(r["passed_all"] for r in mine) / len(mine))
    assert sum(base["histogram"]) == ITEMS * RUNS
    comparison = summary["comparisons"][0]
    assert comparison["win"] + comparison["tie"] + comparison["loss"] == ITEMS
    assert "RFT readiness" in result.stdout and f"on {ITEMS} items" in result.stdout
    # whether the difference is real, overall and per criterion, in the terminal and the summary
    stats = comparison["significance"]
    assert stats["items"] == ITEMS and stats["ci_low"] <= stats["mean_delta"] <= stats["ci_high"]
    assert set(comparison["criteria"]) == {"has_t", "short"}
    assert f"95% CI [{stats['ci_low']:+.3f}, {stats['ci_high']:+.3f}]" in result.stdout
    assert stats["verdict"] in result.stdout.replace("\n", "")
    for criterion in ("has_t", "short"):
        assert f"  {criterion}: Δ {comparison['criteria'][criterion]['mean_delta']:+.3f}" in result.stdout
    # both models' histograms, labelled; names printed whole even at 80 columns
    assert "score histogram" in result.stdout
    for model in (tiny_model_dir, other_model):
        assert f"\n{model}\n" in result.stdout
    assert result.stdout.count("[0.90, 1.00]") == 1  # one table, a column per model

    page = (out / "report.html").read_text()
    assert page.count("<svg") == 3  # histogram, per-criterion means, per-item deltas
    assert "Wilcoxon p" in page and stats["verdict"] in page
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", page)
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # every item is among the worst 10
    assert "&lt;b&gt;the cat" in page and "<b>the cat" not in page


@pytest.mark.slow
def test_an_interrupted_eval_resumes_to_the_same_summary(files, tiny_model_dir, tmp_path):
    full, cut = tmp_path / "full", tmp_path / "cut"
    # string_check only: the sandbox of python graders takes seconds to start in each process
    assert _eval(files, tiny_model_dir, full, python=False).returncode == 0
    # what a kill leaves behind: the config, the first records and half a line
    cut.mkdir()
    shutil.copy(full / "config.json", cut / "config.json")
    lines = (full / "results.jsonl").read_text().splitlines(keepends=True)
    (cut / "results.jsonl").write_text("".join(lines[:3]) + lines[3][:25])
    result = _eval(files, tiny_model_dir, cut, python=False)
    assert result.returncode == 0, result.stderr
    assert "resuming: 3 answers" in result.stdout
    records = _results(cut)
    keys = [(r["model"], r["item_index"], r["run"]) for r in records]
    assert len(keys) == len(set(keys)) == ITEMS * RUNS
    assert sorted(records, key=lambda r: (r["item_index"], r["run"])) == _results(full)
    assert (
        json.loads((cut / "summary.json").read_text())["models"]
        == json.loads((full / "summary.json").read_text())["models"]
    )

    changed = _eval(files, tiny_model_dir, cut, "--temperature", "0.5", python=False)
    assert changed.returncode == 2
    assert "different configuration (changed: options)" in changed.stderr


@pytest.mark.slow
def test_eval_decodes_under_a_response_format(files, tiny_model_dir, tmp_path):
    schema = {
        "type": "object",
        "properties": {"animal": {"type": "string", "maxLength": 6}, "legs": {"enum": [2, 4, 6]}},
        "required": ["animal", "legs"],
        "additionalProperties": False,
    }
    fmt = tmp_path / "response_format.json"
    fmt.write_text(json.dumps({"type": "json_schema", "json_schema": {"name": "pet", "schema": schema}}))
    out = tmp_path / "out"
    result = _eval(files, tiny_model_dir, out, "--response-format", str(fmt), "--max-tokens", "64")
    assert result.returncode == 0, result.stderr
    records = _results(out)
    assert len(records) == ITEMS * RUNS
    for record in records:
        assert record["finish_reason"] == "stop", record["output"]
        assert set(json.loads(record["output"])) == {"animal", "legs"}


@pytest.mark.parametrize(
    "problem", ["missing data", "invalid grader", "bad row", "same model twice", "bad response format"]
)
def test_bad_inputs_are_one_clear_line_and_exit_2(files, tiny_model_dir, tmp_path, problem):
    args = {"data": files["data"], "grader": files["grader"], "compare": []}
    expected = ""
    if problem == "missing data":
        args["data"] = tmp_path / "nope.jsonl"
        expected = "nope.jsonl"
    elif problem == "invalid grader":
        args["grader"] = tmp_path / "bad.json"
        args["grader"].write_text(json.dumps({**GRADER, "operation": "contains"}))
        expected = "operation: 'contains' is not one of"
    elif problem == "bad row":
        args["data"] = tmp_path / "bad.jsonl"
        args["data"].write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": []}\n')
        expected = "bad.jsonl:2"
    elif problem == "same model twice":
        args["compare"] = ["--compare", str(tiny_model_dir)]
        expected = "more than once"
    else:
        fmt = tmp_path / "fmt.json"
        fmt.write_text(json.dumps({"type": "xml"}))
        args["compare"] = ["--response-format", str(fmt)]
        expected = "--response-format"
    result = openrft(
        "eval",
        "--model",
        str(tiny_model_dir),
        "--data",
        str(args["data"]),
        "--grader",
        str(args["grader"]),
        "--out",
        str(tmp_path / "out"),
        *args["compare"],
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


MULTI = {
    "type": "multi",
    "name": "letters",
    "graders": {
        letter: {
            "type": "string_check",
            "name": letter,
            "input": "{{sample.output_text}}",
            "reference": letter,
            "operation": "like",
        }
        for letter in ("t", "a")
    },
    "calculate_output": "(t + a) / 2",
}


@pytest.mark.slow
def test_a_comparison_reuses_the_earlier_answers_of_the_same_model(files, tiny_model_dir, tmp_path):
    multi = tmp_path / "multi.json"
    multi.write_text(json.dumps(MULTI))
    other = tmp_path / "models" / "other"
    shutil.copytree(tiny_model_dir, other)  # the same weights under another folder: its own model

    def run(out: Path, *extra: str):
        return openrft(
            "eval",
            "--model",
            str(tiny_model_dir),
            "--data",
            str(files["data"]),
            "--grader",
            str(multi),
            "--runs",
            str(RUNS),
            "--max-tokens",
            "8",
            "--out",
            str(out),
            *extra,
            cwd=tmp_path,
        )

    base = run(tmp_path / "runs" / "base")
    assert base.returncode == 0, base.stderr
    assert "reused" not in base.stdout
    assert "every sub-grader passed" in base.stdout

    compared = run(tmp_path / "runs" / "cmp", "--compare", str(other))
    assert compared.returncode == 0, compared.stderr
    reused = f"reused {ITEMS * RUNS} answers of {tiny_model_dir} from {tmp_path / 'runs' / 'base'}"
    assert reused in compared.stdout.replace("\n", "")
    first = {(r["item_index"], r["run"]): r["output"] for r in _results(tmp_path / "runs" / "base")}
    again = {
        (r["item_index"], r["run"]): r["output"]
        for r in _results(tmp_path / "runs" / "cmp")
        if r["model"] == str(tiny_model_dir)
    }
    assert again == first
    summary = json.loads((tmp_path / "runs" / "cmp" / "summary.json").read_text())
    letters = summary["comparisons"][0]["criteria"]["letters"]
    assert set(letters["sub_graders"]) == {"t", "a"} and "all_sub_graders_passed" in letters
    assert "every sub-grader passed: Δ" in compared.stdout
    rate = summary["models"][str(other)]["criteria"]["letters"]["all_sub_graders_pass_rate"]
    assert f"every sub-grader passed {rate:.1%}" in compared.stdout

    # other settings: nothing reused, and an explicit --reuse says why
    hotter = run(
        tmp_path / "elsewhere" / "hot", "--temperature", "0.5", "--reuse", str(tmp_path / "runs" / "base")
    )
    assert hotter.returncode == 0, hotter.stderr
    assert "reused" not in hotter.stdout
    assert "nothing to reuse" in hotter.stdout and "differs: options" in hotter.stdout.replace("\n", "")
    # the same settings but --no-reuse: sampled again
    fresh = run(tmp_path / "runs" / "fresh", "--no-reuse")
    assert fresh.returncode == 0 and "reused" not in fresh.stdout
