"""OpenAI's RFT hyperparameters, mapped to GRPO, with every ``"auto"`` resolved by a stated rule.

| OpenAI name | GRPO meaning | ``"auto"`` rule (n = training rows) |
|---|---|---|
| ``n_epochs`` | passes over the training set | 3 if n < 50, 2 if n < 200, else 1 |
| ``batch_size`` | prompts per optimizer step | clamp(n // 32, 2, 8) |
| ``learning_rate_multiplier`` | × the model's base rate (:data:`BASE_LEARNING_RATES`) | 1.0 |
| ``compute_multiplier`` | × 8 completions per prompt (the GRPO group), clamped to [2, 64] | 1.0 |
| ``eval_interval`` | steps between validations (and checkpoints) | max(1, total steps // 5) |
| ``eval_samples`` | answers per validation item | 2 |
| ``reasoning_effort`` | completion budget: low 64, medium 128, high 256 tokens | medium |

docs/training.md says the same for users; a test holds both to these rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from openrft.errors import InvalidRequestError

Auto = Literal["auto"]
COMPLETION_BUDGET = {"low": 64, "medium": 128, "high": 256}
GROUP_SIZE = 8
BASE_LEARNING_RATES: dict[str, dict[str, float]] = {
    # Measured to learn within 30 GRPO steps on this project's CPU (cpu-feasibility §2a).
    "smollm2-135m-instruct": {"lora": 2e-4, "full": 1e-5},
}
DEFAULT_BASE_LEARNING_RATE = {"lora": 2e-4, "full": 1e-5}
"""For models without a measured entry: SmolLM2's rates (LoRA runs want ~10-20× full fine-tuning's)."""


class Hyperparameters(BaseModel):
    """What a job asks for: OpenAI's names (``"auto"`` allowed) plus local extras."""

    model_config = ConfigDict(extra="forbid")

    n_epochs: Annotated[int, Field(ge=1, le=50)] | Auto = "auto"
    batch_size: Annotated[int, Field(ge=1, le=256)] | Auto = "auto"
    learning_rate_multiplier: Annotated[float, Field(gt=0)] | Auto = "auto"
    compute_multiplier: Annotated[float, Field(gt=0, le=10)] | Auto = "auto"
    eval_interval: Annotated[int, Field(ge=1)] | Auto = "auto"
    eval_samples: Annotated[int, Field(ge=1)] | Auto = "auto"
    reasoning_effort: Literal["low", "medium", "high", "default"] = "medium"
    # --- local extras ---
    lora: bool = True
    lora_rank: int = Field(default=16, ge=1)
    max_completion_length: int | None = Field(default=None, ge=1)
    """Tokens per rollout; overrides ``reasoning_effort``."""
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = "dapo"
    beta: float = Field(default=0.0, ge=0.0)
    """KL penalty against the base model (0 = no reference model, TRL's default)."""
    temperature: float = Field(default=1.0, gt=0.0)
    seed: int = Field(default=42, ge=0)
    max_steps: int | None = Field(default=None, ge=1)
    """Stop after this many steps whatever the epochs say (demos and tests)."""
    max_grader_error_rate: float = Field(default=0.5, ge=0.0, le=1.0)
    """Fail the job when more than this share of the samples in the error window hit grader errors."""
    grader_error_window: int = Field(default=3, ge=1)
    """Steps over which the grader error rate is measured."""


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


def base_learning_rate(model: str | None, lora: bool) -> float:
    """The model's base rate: measured for packaged models, :data:`DEFAULT_BASE_LEARNING_RATE` else."""
    rates = BASE_LEARNING_RATES.get((model or "").lower(), DEFAULT_BASE_LEARNING_RATE)
    return rates["lora" if lora else "full"]


def resolve(hp: Hyperparameters, n_train: int, model: str | None = None) -> Resolved:
    """Apply the module's rules for a training set of ``n_train`` rows."""
    n_epochs = hp.n_epochs if hp.n_epochs != "auto" else 3 if n_train < 50 else 2 if n_train < 200 else 1
    batch = hp.batch_size if hp.batch_size != "auto" else min(8, max(2, n_train // 32))
    batch = max(1, min(batch, n_train))
    multiplier = 1.0 if hp.learning_rate_multiplier == "auto" else float(hp.learning_rate_multiplier)
    compute = 1.0 if hp.compute_multiplier == "auto" else float(hp.compute_multiplier)
    generations = min(64, max(2, round(GROUP_SIZE * compute)))
    steps_per_epoch = max(1, n_train // batch)  # TRL's sampler drops a last partial batch
    total = steps_per_epoch * n_epochs
    if hp.max_steps is not None:
        total = min(total, hp.max_steps)
    interval = hp.eval_interval if hp.eval_interval != "auto" else max(1, total // 5)
    effort = "medium" if hp.reasoning_effort == "default" else hp.reasoning_effort
    return Resolved(
        n_epochs=n_epochs,
        batch_size=batch,
        learning_rate=base_learning_rate(model, hp.lora) * multiplier,
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
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidRequestError(f"--set {pair!r}: expected key=value", param="hyperparameters")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def parse_hyperparameters(values: dict[str, Any]) -> Hyperparameters:
    """``Hyperparameters(**values)``, with the first problem as one :class:`InvalidRequestError`."""
    from pydantic import ValidationError

    try:
        return Hyperparameters(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"][:1])
        if first["type"] == "extra_forbidden":
            known = ", ".join(Hyperparameters.model_fields)
            raise InvalidRequestError(
                f"hyperparameters.{name}: unknown hyperparameter (known: {known})",
                param=f"hyperparameters.{name}",
            ) from None
        raise InvalidRequestError(
            f"hyperparameters.{name}: {first.get('input')!r} is not valid ({first['msg']})",
            param=f"hyperparameters.{name}",
        ) from None
