"""Shared pieces of the training tests: a learnable reward, flaky graders, data and configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openrft.training import Hyperparameters, TrainConfig

A_SHARE = {  # the share of characters that are "a": a reward a random tiny model can climb
    "type": "python",
    "name": "a_share",
    "source": "def grade(sample, item):\n"
    "    text = sample['output_text'].replace(' ', '')\n"
    "    return text.count('a') / len(text) if text else 0.0\n",
}


def flaky(share: float) -> dict[str, Any]:
    """a_share, except that it raises on about ``share`` of the samples (by a hash of the text)."""
    return {
        "type": "python",
        "name": "flaky",
        "source": "import zlib\ndef grade(sample, item):\n"
        "    text = sample['output_text']\n"
        f"    if zlib.crc32((text + str(item['n'])).encode()) % 1000 < {int(share * 1000)}:\n"
        "        raise RuntimeError('grader bug')\n"
        "    text = text.replace(' ', '')\n"
        "    return text.count('a') / len(text) if text else 0.0\n",
    }


def write_rows(path: Path, rows: int, **extra: Any) -> Path:
    lines = [
        {"messages": [{"role": "user", "content": f"the dog ran {i}"}], "n": i, **extra} for i in range(rows)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def make_config(
    root: Path, model: Path, grader: dict[str, Any], *, train_rows: int = 16, out: str = "job", **hp: Any
) -> TrainConfig:
    defaults: dict[str, Any] = dict(
        lora=False,
        batch_size=4,
        compute_multiplier=2.0,  # 8 completions per prompt (the CPU's group is 4)
        temperature=1.0,
        learning_rate_multiplier=300,  # 3e-3 on the tiny model (cpu-feasibility §3)
        max_completion_length=16,
        n_epochs=20,
        seed=0,
    )
    return TrainConfig(
        model=str(model),
        train_file=write_rows(root / f"train-{train_rows}.jsonl", train_rows),
        valid_file=write_rows(root / "valid.jsonl", 4),
        grader=grader,
        out_dir=root / out,
        hyperparameters=Hyperparameters(**{**defaults, **hp}),
    )


def metrics(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def without_timing(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k != "timing"} for m in rows]
