"""A job's outputs from its steps' metrics: the results CSV, trained tokens, usage, the finish estimate."""

from __future__ import annotations

import csv
import io

from openrft.server.worker._outputs import (
    OPENAI_COLUMNS,
    estimated_finish,
    results_csv,
    trained_tokens,
    usage_metrics,
)


def _step(step: int, seconds: float, reward: float) -> dict:
    return {
        "step": step,
        "total_steps": 10,
        "train_mean_reward": reward,
        "full_valid_mean_reward": None if step % 2 else reward,
        "completion_tokens_mean": 12.5,
        "samples": 8,
        "timing": {"step": {"full_iteration": seconds}},
        "trl": {"loss": 0.25, "learning_rate": 1e-3},
        "model_graders_token_usage": {"judge": {"train_prompt_tokens": 10, "train_completion_tokens": 3}},
    }


STEPS = {1: _step(1, 2.0, 0.1), 2: _step(2, 4.0, 0.3)}


def test_the_results_csv_has_openais_columns_first_then_ours():
    rows = list(csv.DictReader(io.StringIO(results_csv(STEPS).decode())))
    header = results_csv(STEPS).decode().splitlines()[0].split(",")
    assert tuple(header[: len(OPENAI_COLUMNS)]) == OPENAI_COLUMNS
    assert [r["step"] for r in rows] == ["1", "2"]
    assert rows[1]["train_mean_reward"] == "0.3" and rows[0]["full_valid_mean_reward"] == ""
    assert rows[0]["total_loss_sum"] == "0.25" and rows[0]["pg_loss_sum"] == ""
    assert rows[1]["step_seconds"] == "4.0" and rows[1]["learning_rate"] == "0.001"


def test_tokens_usage_and_the_finish_estimate_come_from_the_measured_steps():
    assert trained_tokens(STEPS) == 2 * 8 * 12.5
    usage = usage_metrics(STEPS)
    assert usage["steps"] == 2 and usage["training_seconds"] == 6.0
    assert usage["model_graders_token_usage"] == {"judge": {"prompt_tokens": 20, "completion_tokens": 6}}
    # 8 steps left at the mean pace of the measured ones (3 s)
    assert estimated_finish(STEPS, at=1000.0) == 1000 + 8 * 3
    assert estimated_finish({}) is None
