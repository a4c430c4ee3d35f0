"""OpenAI's RFT hyperparameters, mapped to GRPO, with every ``"auto"`` resolved by a stated rule.

| OpenAI name | GRPO meaning | ``"auto"`` rule (n = training rows) |
|---|---|---|
| ``n_epochs`` | passes over the training set | 3 if n < 50, 2 if n < 200, else 1 |
| ``batch_size`` | prompts per optimizer step | clamp(n // 32, 2, 8) |
| ``learning_rate_multiplier`` | × base rate (LoRA 2e-4, full 1e-5; measured in cpu-feasibility §2a) | 1.0 |
| ``compute_multiplier`` | × 8 completions per prompt (the GRPO group), clamped to [2, 64] | 1.0 |
| ``eval_interval`` | steps between validations (and checkpoints) | max(1, total steps // 5) |
| ``eval_samples`` | answers per validation item | 2 |
| ``reasoning_effort`` | completion budget: low 64, medium 128, high 256 tokens | medium |
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Auto = Literal["auto"]
BASE_LEARNING_RATE = {"lora": 2e-4, "full": 1e-5}
COMPLETION_BUDGET = {"low": 64, "medium": 128, "high": 256}
GROUP_SIZE = 8


class Hyperparameters(BaseModel):
    """What a job asks for: OpenAI's names (``"auto"`` allowed) plus local extras."""

    model_config = ConfigDict(extra="forbid")

    n_epochs: int | Auto = Field(default="auto")
    batch_size: int | Auto = Field(default="auto")
    learning_rate_multiplier: float | Auto = Field(default="auto")
    compute_multiplier: float | Auto = Field(default="auto")
    eval_interval: int | Auto = Field(default="auto")
    eval_samples: int | Auto = Field(default="auto")
    reasoning_effort: Literal["low", "medium", "high", "default"] = "medium"
    # --- local extras ---
    lora: bool = True
    lora_rank: int = Field(default=16, ge=1)
    max_completion_length: int | None = Field(default=None, ge=1)
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = "dapo"
    beta: float = Field(default=0.0, ge=0.0)
    """KL penalty against the base model (0 = no reference model, TRL's default)."""
    temperature: float = Field(default=1.0, gt=0.0)
    seed: int = 42
    max_steps: int | None = Field(default=None, ge=1)
    """Stop after this many steps whatever the epochs say (demos and tests)."""
    max_grader_error_rate: float = Field(default=0.5, ge=0.0, le=1.0)
    """Fail the job when more than this share of a step's samples hit grader errors."""


@dataclass(frozen=True)
class Resolved:
    """Every hyperparameter with ``"auto"`` replaced by its value."""

    n_epochs: int
    batch_size: int
    learning_rate: float
    learning_rate_multiplier: float
    num_generations: int
    eval_interval: int
    eval_samples: int
    max_completion_length: int
    total_steps: int
    steps_per_epoch: int


def resolve(hp: Hyperparameters, n_train: int) -> Resolved:
    """Apply the module's rules for a training set of ``n_train`` rows."""
    n_epochs = hp.n_epochs if hp.n_epochs != "auto" else 3 if n_train < 50 else 2 if n_train < 200 else 1
    batch = hp.batch_size if hp.batch_size != "auto" else min(8, max(2, n_train // 32))
    batch = max(1, min(batch, n_train))
    multiplier = 1.0 if hp.learning_rate_multiplier == "auto" else float(hp.learning_rate_multiplier)
    compute = 1.0 if hp.compute_multiplier == "auto" else float(hp.compute_multiplier)
    generations = min(64, max(2, round(GROUP_SIZE * compute)))
    steps_per_epoch = math.ceil(n_train / batch)
    total = steps_per_epoch * n_epochs
    if hp.max_steps is not None:
        total = min(total, hp.max_steps)
    interval = hp.eval_interval if hp.eval_interval != "auto" else max(1, total // 5)
    effort = "medium" if hp.reasoning_effort == "default" else hp.reasoning_effort
    return Resolved(
        n_epochs=n_epochs,
        batch_size=batch,
        learning_rate=BASE_LEARNING_RATE["lora" if hp.lora else "full"] * multiplier,
        learning_rate_multiplier=multiplier,
        num_generations=generations,
        eval_interval=min(interval, total),
        eval_samples=hp.eval_samples if hp.eval_samples != "auto" else 2,
        max_completion_length=hp.max_completion_length or COMPLETION_BUDGET[effort],
        total_steps=total,
        steps_per_epoch=steps_per_epoch,
    )


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` strings from ``--set`` (values parsed as JSON when they parse, else text)."""
    import json

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            from openrft.errors import InvalidRequestError

            raise InvalidRequestError(f"--set {pair!r}: expected key=value", param="hyperparameters")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out
