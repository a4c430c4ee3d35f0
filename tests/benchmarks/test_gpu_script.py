"""``benchmarks/gpu.py --dry-run``: the GPU check runs end to end on the CPU with tiny shapes, so it
cannot rot between the times someone has a GPU to run it on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu.py"


@pytest.mark.slow
def test_the_gpu_check_runs_on_the_cpu_in_dry_run_mode(tmp_path):
    out = tmp_path / "gpu.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--out", str(out)],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    [(name, model)] = report["models"].items()
    assert name == "tiny" and model["weights"] == "random weights"
    for path in ("generate", "continuous batching"):
        assert model["rollouts"][path]["tokens_per_s"] > 0, model["rollouts"][path]
    for runner in ("TRL GRPOTrainer", "openrft train"):
        assert model["grpo"][runner]["median_step_s"] > 0 and model["grpo"][runner]["steps_timed"] >= 1
    assert model["grpo"]["ratio"] > 0
    assert "openrft / TRL" in done.stdout


@pytest.mark.slow
def test_without_a_gpu_the_full_run_says_so(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the full run is the benchmark itself")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path / "x.json")],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1 and "no CUDA GPU is visible" in done.stderr and "Traceback" not in done.stderr
