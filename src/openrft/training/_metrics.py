"""One step's metrics in OpenAI's RFT metrics-event shape (reference §5.4), plus openrft's extras,
built from the step's grades as a :class:`~openrft.training.StepMetrics`.

OpenAI's keys: ``step``, ``total_steps``, ``usage`` (judge tokens per grader, reasoning tokens
of the samples), ``errors`` (per error flag: ``train_/valid_`` × ``_mean/_count``), ``scores``
(train and valid reward, per grader and per sub-grader), ``timing`` (``sampling``,
``training``, ``eval``, ``full_iteration`` seconds and grader latency), ``train_mean_reward``,
``full_valid_mean_reward``, ``full_valid_mean_parse_error``, ``reasoning_tokens_mean``,
``completion_tokens_mean``, ``valid_reasoning_tokens_mean``, ``mean_unresponsive_rewards``,
``model_graders_token_usage``. Valid-side values are ``None`` on steps without validation.

openrft adds ``samples``, ``grader_errored_samples``, ``grader_error_rate``,
``zero_variance_group_fraction``, ``completion_chars_mean``, ``truncated_fraction``,
``timing.step.grading``, ``alarms`` and ``trl`` (TRL's own logs: loss, KL, entropy, clipping).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from openrft.graders import ERROR_FLAGS, Grader
from openrft.training._reward import StepGrades
from openrft.training._step_metrics import StepMetrics

TRL_KEYS = ("loss", "grad_norm", "learning_rate", "kl", "entropy", "clip_ratio", "frac_reward_zero_std")


@dataclass
class ValidStats:
    """What one validation produced (from the evals engine's records)."""

    reward_mean: float
    sub_reward_means: dict[str, float] = field(default_factory=dict)
    error_counts: Counter[str] = field(default_factory=Counter)
    records: int = 0
    completion_tokens_mean: float = 0.0
    reasoning_tokens_total: int = 0
    truncated_fraction: float = 0.0
    seconds: float = 0.0

    @classmethod
    def from_records(cls, records: Sequence[Any], criterion: str, seconds: float) -> ValidStats:
        n = max(1, len(records))
        subs: dict[str, list[float]] = {}
        for r in records:
            for key, value in (r.sub_rewards.get(criterion) or {}).items():
                subs.setdefault(key, []).append(float(value))
        return cls(
            reward_mean=statistics.fmean(r.scores[criterion] for r in records) if records else 0.0,
            sub_reward_means={k: statistics.fmean(v) for k, v in subs.items()},
            error_counts=Counter(flag for r in records for flag in r.errors.get(criterion, [])),
            records=len(records),
            completion_tokens_mean=sum(r.completion_tokens for r in records) / n,
            reasoning_tokens_total=sum(r.reasoning_tokens for r in records),
            truncated_fraction=sum(r.finish_reason == "length" for r in records) / n,
            seconds=seconds,
        )


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def _scores(grader: Grader, g: StepGrades, valid: ValidStats | None) -> dict[str, Any]:
    train = _mean(g.rewards)
    graders = [
        {
            "name": grader.name,
            "type": grader.type,
            "train_reward_mean": train,
            "valid_reward_mean": valid.reward_mean if valid else None,
        }
    ]
    for key, sub in grader.sub_graders().items():
        values = [s[key] for s in g.sub_rewards if key in s]
        graders.append(
            {
                "name": key,
                "type": sub.type,
                "train_reward_mean": _mean(values),
                "valid_reward_mean": valid.sub_reward_means.get(key) if valid else None,
            }
        )
    return {
        "graders": graders,
        "train_reward_mean": train,
        "valid_reward_mean": valid.reward_mean if valid else None,
    }


def _errors(grader: Grader, g: StepGrades, valid: ValidStats | None) -> dict[str, Any]:
    train = g.error_counts()
    n = max(1, len(g.rewards))
    row: dict[str, Any] = {"name": grader.name, "type": grader.type}
    for flag in ERROR_FLAGS:
        row[f"train_{flag}_mean"] = train[flag] / n
        row[f"train_{flag}_count"] = train[flag]
        row[f"valid_{flag}_mean"] = valid.error_counts[flag] / max(1, valid.records) if valid else None
        row[f"valid_{flag}_count"] = valid.error_counts[flag] if valid else None
    return {"graders": [row]}


def _usage(grader: Grader, g: StepGrades, valid: ValidStats | None) -> dict[str, Any]:
    n = max(1, len(g.rewards))
    graders = [
        {
            "name": grader.name,
            "type": grader.type,
            "model": model,
            "train_prompt_tokens_mean": usage.get("prompt_tokens", 0) / n,
            "train_prompt_tokens_count": usage.get("prompt_tokens", 0),
            "train_completion_tokens_mean": usage.get("completion_tokens", 0) / n,
            "train_completion_tokens_count": usage.get("completion_tokens", 0),
            "valid_prompt_tokens_mean": None,
            "valid_prompt_tokens_count": None,
            "valid_completion_tokens_mean": None,
            "valid_completion_tokens_count": None,
        }
        for model, usage in sorted(g.judge_usage.items())
    ]
    reasoning = sum(g.reasoning_tokens)
    return {
        "graders": graders,
        "samples": {
            "train_reasoning_tokens_mean": reasoning / n,
            "train_reasoning_tokens_count": reasoning,
            "valid_reasoning_tokens_mean": valid.reasoning_tokens_total / max(1, valid.records)
            if valid
            else None,
            "valid_reasoning_tokens_count": valid.reasoning_tokens_total if valid else None,
        },
    }


def step_metrics(
    *,
    step: int,
    total_steps: int,
    grader: Grader,
    grades: StepGrades,
    valid: ValidStats | None,
    timing: dict[str, float],
    trl_logs: dict[str, Any],
    alarms: Sequence[dict[str, Any]] = (),
) -> StepMetrics:
    """One step's metrics event ``data``; ``timing`` has sampling, grading, training, eval, full."""
    g = grades
    n = max(1, len(g.rewards))
    errors = g.error_counts()
    scores = _scores(grader, g, valid)
    row = {
        "step": step,
        "total_steps": total_steps,
        "usage": _usage(grader, g, valid),
        "errors": _errors(grader, g, valid),
        "scores": scores,
        "timing": {
            "step": {
                "sampling": timing["sampling"],
                "grading": timing["grading"],
                "training": timing["training"],
                "eval": timing["eval"],
                "full_iteration": timing["full_iteration"],
            },
            "graders": [
                {
                    "name": grader.name,
                    "type": grader.type,
                    "train_execution_latency_mean": _mean(g.latencies),
                    "valid_execution_latency_mean": None,
                }
            ],
        },
        "train_mean_reward": scores["train_reward_mean"],
        "full_valid_mean_reward": scores["valid_reward_mean"],
        "full_valid_mean_parse_error": (
            valid.error_counts["sample_parse_error"] / max(1, valid.records) if valid else None
        ),
        "reasoning_tokens_mean": sum(g.reasoning_tokens) / n,
        "completion_tokens_mean": sum(g.completion_tokens) / n,
        "valid_reasoning_tokens_mean": valid.reasoning_tokens_total / max(1, valid.records)
        if valid
        else None,
        "mean_unresponsive_rewards": errors["unresponsive_reward_error"] / n,
        "model_graders_token_usage": {
            model: {
                "train_prompt_tokens": u.get("prompt_tokens", 0),
                "train_completion_tokens": u.get("completion_tokens", 0),
                "train_cached_tokens": u.get("cached_tokens", 0),
                "eval_prompt_tokens": None,
                "eval_completion_tokens": None,
                "eval_cached_tokens": None,
            }
            for model, u in sorted(g.judge_usage.items())
        },
        # --- openrft's extras ---
        "samples": len(g.rewards),
        "grader_errored_samples": g.errored,
        "grader_error_rate": g.errored / n,
        "zero_variance_group_fraction": g.zero_variance_fraction(),
        "completion_chars_mean": _mean([len(t) for t in g.texts]),
        "truncated_fraction": sum(g.truncated) / n,
        "alarms": list(alarms),
        "trl": {k: trl_logs[k] for k in TRL_KEYS if trl_logs.get(k) is not None},
    }
    return StepMetrics.model_validate(row)


def rollout_groups(g: StepGrades) -> list[dict[str, Any]]:
    """The step's prompts with their completions, as ``rollouts.jsonl`` stores them.

    Completions sampled on a rollout server also name the ``policy`` version that sampled them
    and carry their ``token_ids`` with the server's ``logprobs``.
    """
    advantages = g.advantages()

    def completion(i: int) -> dict[str, Any]:
        entry = {
            "text": g.texts[i],
            "reward": g.rewards[i],
            "advantage": advantages[i],
            "sub_rewards": g.sub_rewards[i],
            "completion_tokens": g.completion_tokens[i],
            "errors": g.errors[i],
        }
        policy = g.policies[i] if i < len(g.policies) else None
        if policy is not None:
            entry.update(policy=policy, token_ids=g.token_ids[i], logprobs=g.logprobs[i])
        return entry

    return [
        {"prompt": g.prompts[idx[0]], "item": g.items[idx[0]], "completions": [completion(i) for i in idx]}
        for idx in g.groups()
    ]
