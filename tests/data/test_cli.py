"""``openrft data``: problems listed with FILE:LINE, exit status 2, never a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROW = {"messages": [{"role": "user", "content": "2+2?"}], "reference_answer": "4"}


def openrft(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openrft.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )


def test_invalid_file_lists_every_problem_and_exits_2(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(
        json.dumps(ROW) + "\n{oops\n" + json.dumps({"messages": [{"role": "robot", "content": "x"}]}) + "\n\n"
    )
    result = openrft("data", "validate", str(path), "--chars", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "✗ 2 problems" in result.stdout
    assert f"{path}:2: invalid JSON at column 2" in result.stdout
    assert f"{path}:3: messages[0].role: 'robot' is not one of" in result.stdout
    assert f"warning: {path}:4: blank line skipped" in result.stdout
    assert "statistics of 1 row(s)" in result.stdout  # the rows that parsed are still described
    assert result.stderr.strip() == f"error: {path} is not a valid train file: 2 problems"


def test_valid_file_prints_ok_statistics_and_warnings(tmp_path):
    path = tmp_path / "valid.jsonl"
    rows = [{**ROW, "messages": [{"role": "user", "content": f"q{i}"}]} for i in range(4)]
    rows[3]["reference_answer"] = "5"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = openrft("data", "validate", str(path), "--split", "valid", "--chars", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"✓ OK {path}: 4 row(s), valid split" in result.stdout
    assert re.search(r"prompt length \(characters\) +p50 2  p90 2  p99 2  max 2 ", result.stdout)
    assert re.search(r"reference_answer values +2 distinct *\n +3  4 *\n +1  5 *\n", result.stdout)
    assert "warning: skewed reference_answer: '4' is on 3 of 4 rows (75%)" in result.stdout


@pytest.mark.slow
def test_json_report(tmp_path, tiny_model_dir):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(ROW) + "\n" + json.dumps({"messages": []}) + "\n")
    result = openrft("data", "validate", str(path), "--json", "--model", str(tiny_model_dir), cwd=tmp_path)
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["problems"] == [f"{path}:2: 'messages' is empty: a prompt needs at least one message"]
    assert report["stats"]["rows"] == 1
    assert report["stats"]["prompt_length"]["unit"] == "tokens"
    assert report["stats"]["top_answers"] == [{"value": "4", "count": 1}]


def test_unknown_model_split_or_task_is_one_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(ROW) + "\n")
    for args, expected in [
        (("validate", str(path), "--model", "no-such-model"), "unknown local model 'no-such-model'"),
        (("validate", str(path), "--split", "test"), "split 'test' is not one of train, valid"),
        (("build-task", "nope", "--out", str(tmp_path / "x")), "unknown task 'nope'"),
    ]:
        result = openrft("data", *args, cwd=tmp_path)
        assert result.returncode == 2, result
        assert result.stderr.startswith("error: ") and expected in result.stderr
        assert "Traceback" not in result.stderr


def test_build_task_writes_the_files(tmp_path):
    out = tmp_path / "task"
    result = openrft(
        "data", "build-task", "clinical-scores", "--out", str(out), "--n-train", "5", "--n-valid", "2",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "clinical-scores: 5 training, 2 validation rows" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "grader.json", "train.jsonl", "valid.jsonl"]
    check = openrft("data", "validate", str(out / "valid.jsonl"), "--split", "valid", "--chars", cwd=tmp_path)
    assert check.returncode == 0, check.stdout
