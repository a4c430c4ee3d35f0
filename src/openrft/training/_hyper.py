"""OpenAI's RFT hyperparameters, mapped to GRPO, with every ``"auto"`` resolved by a stated rule.

| OpenAI name | GRPO meaning | ``"auto"`` rule (n = training rows) |
|---|---|---|
| ``n_epochs`` | passes over the training set | 3 if n < 50, 2 if n < 200, else 1 |
| ``batch_size`` | prompts per optimizer step | GPU: clamp(n // 32, 2, 8); CPU: clamp(n // 16, 2, 4) |
| ``learning_rate_multiplier`` | × the model's base rate (:data:`BASE_LEARNING_RATES`) | 1.0 |
| ``compute_multiplier`` | × the GRPO group (GPU 8, CPU 4 completions), within [2, 64] | 1.0 |
| ``eval_interval`` | steps between validations (and checkpoints) | max(1, total steps // 5) |
| ``eval_samples`` | answers per validation item | 2 |
| ``reasoning_effort`` | completion budget: low 64, medium 128, high 256 tokens | ``default``: see below |
| ``temperature`` (local) | rollout sampling temperature | GPU 1.0; CPU 0.7 |
| ``micro_batch_size`` (local) | completions per forward and backward pass | see below |

**Completion length.** With ``reasoning_effort`` left at ``default`` and no
``max_completion_length``, the budget comes from the task's reference answers: 1.5 × the
95th-percentile reference length in the policy's tokens, plus 16, rounded up to a multiple of
16, within [32, 512]; a task without references gets 128. A JSON answer of 41 tokens gets 80, a
one-number answer 32: room to answer, no room to ramble.

**Micro-batches.** A step's completions go through the model in micro-batches whose gradients
add up to the step's (TRL's gradient accumulation: the same update, less memory). ``auto``
takes the largest divisor of the step's completions whose micro-batch holds at most
:data:`MICRO_BATCH_TOKENS` completion tokens (CPU 1,280, GPU 8,192), so short answers go in
one pass and long ones are split: on the CPU, passes of up to 1,280 completion tokens peaked
near 10 GB, passes of 2,048 at 15-18.5 GB, and 16 × 512 tokens in one pass ran a 24 GB machine
out of memory.

**Why the CPU differs** (``benchmarks/learning.py``, docs/training.md): a small model on two
cores learns from fewer, cooler samples: 4 prompts × 4 completions at temperature 0.7 learned
the demo's task in 12 steps, where 8 completions at 1.0 cost twice the time and sampled
mostly-wrong groups; 6 prompts × 8 completions × 128 tokens ran a 24 GB machine out of memory.

docs/training.md says the same for users; a test holds both to these rules.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from openrft.errors import InvalidRequestError

Auto = Literal["auto"]
COMPLETION_BUDGET = {"low": 64, "medium": 128, "high": 256}
GROUP_SIZE = {"gpu": 8, "cpu": 4}
TEMPERATURE = {"gpu": 1.0, "cpu": 0.7}
MICRO_BATCH_TOKENS = {"gpu": 8192, "cpu": 1280}
"""Completion tokens per micro-batch under ``micro_batch_size="auto"`` (the CPU's measured; the
GPU's a start for a 1-4B model in bf16, not yet measured)."""
BASE_LEARNING_RATES: dict[str, dict[str, float]] = {
    # LoRA: 6e-4 learned the demo's task in 12 steps on the CPU (2e-4, cpu-feasibility §2a's rate
    # for a format reward, needed over 24); full fine-tuning: cpu-feasibility §2a.
    "smollm2-135m-instruct": {"lora": 6e-4, "full": 1e-5},
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
    reasoning_effort: Literal["low", "medium", "high", "default"] = "default"
    """``low``/``medium``/``high``: a 64/128/256-token budget; ``default``: from the references."""
    # --- local extras ---
    lora: bool = True
    lora_rank: int = Field(default=16, ge=1)
    max_completion_length: int | None = Field(default=None, ge=1)
    """Tokens per rollout; overrides ``reasoning_effort``."""
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = "dapo"
    lr_scheduler: Literal["constant", "linear", "cosine"] = "constant"
    """How the learning rate moves over the job's steps: held, or decayed to 0 by the last step."""
    beta: float = Field(default=0.0, ge=0.0)
    """KL penalty against the base model (0 = no reference model, TRL's default)."""
    temperature: Annotated[float, Field(gt=0.0)] | Auto = "auto"
    """Rollout sampling temperature (``auto``: 1.0 on a GPU, 0.7 on the CPU)."""
    micro_batch_size: Annotated[int, Field(ge=1)] | Auto = "auto"
    """Completions per forward and backward pass; a divisor of the step's completions."""
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
    temperature: float = 1.0
    micro_batch_size: int | None = None
    """Completions per forward and backward pass (None, in folders written before it: all)."""


def base_learning_rate(model: str | None, lora: bool) -> float:
    """The model's base rate: measured for packaged models, :data:`DEFAULT_BASE_LEARNING_RATE` else."""
    rates = BASE_LEARNING_RATES.get((model or "").lower(), DEFAULT_BASE_LEARNING_RATE)
    return rates["lora" if lora else "full"]


def completion_length(reference_tokens: Sequence[int]) -> int | None:
    """The budget the task's references call for (see the module docstring), or None without any."""
    if not reference_tokens:
        return None
    lengths = sorted(reference_tokens)
    p95 = lengths[min(len(lengths) - 1, math.ceil(0.95 * len(lengths)) - 1)]
    budget = math.ceil((1.5 * p95 + 16) / 16) * 16
    return max(32, min(512, budget))


def resolve(
    hp: Hyperparameters,
    n_train: int,
    model: str | None = None,
    *,
    reference_tokens: Sequence[int] = (),
    gpu: bool = False,
) -> Resolved:
    """Apply the module's rules for a training set of ``n_train`` rows.

    ``reference_tokens`` are the lengths of the rows' reference answers in the policy's tokens
    (:func:`reference_texts`); ``gpu`` whether the job trains on a GPU.
    """
    device = "gpu" if gpu else "cpu"
    n_epochs = hp.n_epochs if hp.n_epochs != "auto" else 3 if n_train < 50 else 2 if n_train < 200 else 1
    if hp.batch_size != "auto":
        batch = hp.batch_size
    else:
        batch = min(8, max(2, n_train // 32)) if gpu else min(4, max(2, n_train // 16))
    batch = max(1, min(batch, n_train))
    multiplier = 1.0 if hp.learning_rate_multiplier == "auto" else float(hp.learning_rate_multiplier)
    compute = 1.0 if hp.compute_multiplier == "auto" else float(hp.compute_multiplier)
    generations = min(64, max(2, round(GROUP_SIZE[device] * compute)))
    steps_per_epoch = max(1, n_train // batch)  # TRL's sampler drops a last partial batch
    total = steps_per_epoch * n_epochs
    if hp.max_steps is not None:
        total = min(total, hp.max_steps)
    interval = hp.eval_interval if hp.eval_interval != "auto" else max(1, total // 5)
    if hp.max_completion_length is not None:
        length = hp.max_completion_length
    elif hp.reasoning_effort != "default":
        length = COMPLETION_BUDGET[hp.reasoning_effort]
    else:
        length = completion_length(reference_tokens) or COMPLETION_BUDGET["medium"]
    completions = batch * generations
    if hp.micro_batch_size == "auto":
        fits = max(1, MICRO_BATCH_TOKENS[device] // length)
        micro = max(d for d in range(1, completions + 1) if completions % d == 0 and d <= fits)
    elif completions % hp.micro_batch_size:
        raise InvalidRequestError(
            f"micro_batch_size ({hp.micro_batch_size}) must divide the step's completions "
            f"(batch_size {batch} × completions per prompt {generations} = {completions})",
            param="hyperparameters.micro_batch_size",
        )
    else:
        micro = hp.micro_batch_size
    return Resolved(
        n_epochs=n_epochs,
        batch_size=batch,
        learning_rate=base_learning_rate(model, hp.lora) * multiplier,
        learning_rate_multiplier=multiplier,
        num_generations=generations,
        eval_interval=min(interval, total),
        eval_samples=hp.eval_samples if hp.eval_samples != "auto" else 2,
        max_completion_length=length,
        total_steps=total,
        steps_per_epoch=steps_per_epoch,
        temperature=TEMPERATURE[device] if hp.temperature == "auto" else float(hp.temperature),
        micro_batch_size=micro,
    )


_ITEM_FIELD = re.compile(r"\{\{\s*item\.([A-Za-z_][\w]*)\s*\}\}")


def reference_texts(items: Sequence[Mapping[str, Any]], grader: Mapping[str, Any]) -> list[str]:
    """Each row's reference answer as text: ``item.reference_answer``, else the item fields the
    grader's ``reference`` templates name (``{{item.answer}}``). Objects count as compact JSON."""
    fields: list[str] = []
    pending: list[Any] = [grader]
    while pending:
        node = pending.pop()
        if isinstance(node, Mapping):
            reference = node.get("reference")
            if isinstance(reference, str):
                fields += _ITEM_FIELD.findall(reference)
            pending += list(node.values())
        elif isinstance(node, list):
            pending += node
    texts = []
    for item in items:
        for name in ["reference_answer", *fields]:
            if name in item and item[name] is not None:
                value = item[name]
                texts.append(value if isinstance(value, str) else json.dumps(value, separators=(",", ":")))
                break
    return texts


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
