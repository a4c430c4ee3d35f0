"""One training step's metrics: the ``data`` of OpenAI's RFT metrics event (reference §5.4).

:class:`StepMetrics` is the one shape of these numbers: training builds it
(:func:`openrft.training._metrics.step_metrics`), the job folder stores it as a line of
``metrics.jsonl`` and as the ``data`` of a ``metrics`` event, and the server's
``GET /v1/fine_tuning/jobs/{id}/metrics`` returns it (its OpenAPI document describes it from
these classes). OpenAI's keys come first; openrft's additions follow, each marked so.

Every model allows extra keys, as OpenAI's SDK types do: a reader built for this version
accepts a line a later one wrote.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class GraderUsage(_Open):
    """A model grader's judge tokens in the step: ``_mean`` per sample, ``_count`` in total."""

    name: str
    type: str
    model: str
    """The judge model's name as the grader gives it."""
    train_prompt_tokens_mean: float
    train_prompt_tokens_count: int
    train_completion_tokens_mean: float
    train_completion_tokens_count: int
    valid_prompt_tokens_mean: float | None = None
    valid_prompt_tokens_count: int | None = None
    valid_completion_tokens_mean: float | None = None
    valid_completion_tokens_count: int | None = None


class SampleUsage(_Open):
    """Reasoning tokens of the policy's samples (``None`` on the valid side without validation)."""

    train_reasoning_tokens_mean: float
    train_reasoning_tokens_count: int
    valid_reasoning_tokens_mean: float | None = None
    valid_reasoning_tokens_count: int | None = None


class StepUsage(_Open):
    graders: list[GraderUsage]
    """One entry per judge model the graders called (empty without model graders)."""
    samples: SampleUsage


class GraderErrorRates(_Open):
    """One grader's error flags in the step.

    For every flag of ``metadata.errors`` (``sample_parse_error``, ``python_grader_runtime_error``,
    …) four keys: ``train_<flag>_mean`` (share of samples), ``train_<flag>_count``, and the same
    with ``valid_`` (``None`` on steps without validation).
    """

    __pydantic_extra__: dict[str, float | int | None]
    name: str
    type: str


class StepErrors(_Open):
    graders: list[GraderErrorRates]


class GraderScores(_Open):
    """A grader's mean reward; a multi grader's sub-graders get an entry each, after it."""

    name: str
    type: str
    train_reward_mean: float
    valid_reward_mean: float | None = None


class StepScores(_Open):
    graders: list[GraderScores]
    train_reward_mean: float
    """The mean reward of every sample of the step (not comparable across steps)."""
    valid_reward_mean: float | None = None
    """The mean reward on the validation set (``None`` on steps without validation)."""


class StepTimes(_Open):
    """Seconds spent in each phase of the step."""

    sampling: float
    grading: float | None = None
    """openrft: grading the rollouts (OpenAI counts it in ``sampling``)."""
    training: float
    eval: float
    """The validation (0 on steps without one)."""
    full_iteration: float


class GraderTiming(_Open):
    name: str
    type: str
    train_execution_latency_mean: float
    """Seconds per sample."""
    valid_execution_latency_mean: float | None = None


class StepTiming(_Open):
    step: StepTimes
    graders: list[GraderTiming]


class ModelGraderTokens(_Open):
    """One judge model's tokens in the step (``eval_`` side: ``None`` on steps without validation)."""

    train_prompt_tokens: int
    train_completion_tokens: int
    train_cached_tokens: int
    eval_prompt_tokens: int | None = None
    eval_completion_tokens: int | None = None
    eval_cached_tokens: int | None = None


class Alarm(_Open):
    """openrft: a reward-hacking alarm raised at this step (``openrft.training._alarms``)."""

    alarm: str
    """``length_rising`` or ``train_up_valid_down``."""
    message: str


class StepMetrics(_Open):
    """One step's metrics, as a metrics event's ``data`` carries them."""

    step: int
    total_steps: int
    usage: StepUsage
    errors: StepErrors
    scores: StepScores
    timing: StepTiming
    train_mean_reward: float
    full_valid_mean_reward: float | None = None
    """The validation's mean reward (``None`` on steps without validation)."""
    full_valid_mean_parse_error: float | None = None
    """Share of validation answers the grader could not parse."""
    reasoning_tokens_mean: float
    completion_tokens_mean: float
    valid_reasoning_tokens_mean: float | None = None
    mean_unresponsive_rewards: float
    model_graders_token_usage: dict[str, ModelGraderTokens]
    # --- openrft's additions ---
    samples: int = 0
    """openrft: completions graded in the step."""
    grader_errored_samples: int = 0
    """openrft: completions whose grading raised an error flag."""
    grader_error_rate: float = 0.0
    """openrft: ``grader_errored_samples / samples``; training stops past ``max_grader_error_rate``."""
    zero_variance_group_fraction: float = 0.0
    """openrft: share of prompts whose completions all scored the same (GRPO learns nothing there)."""
    completion_chars_mean: float = 0.0
    """openrft: mean completion length in characters."""
    truncated_fraction: float = 0.0
    """openrft: share of completions cut at ``max_completion_length``."""
    alarms: list[Alarm] = []
    """openrft: reward-hacking alarms raised at this step."""
    trl: dict[str, float] = {}
    """openrft: TRL's own logs for the step (loss, grad_norm, learning_rate, kl, entropy, …)."""

    def row(self) -> dict[str, Any]:
        """The JSON object stored and sent (every key, extras included)."""
        return self.model_dump(mode="json")
