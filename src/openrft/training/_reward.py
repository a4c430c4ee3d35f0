"""The grader batch API as a TRL reward function, recording what each step's grading saw.

TRL calls ``reward(prompts, completions, completion_ids, **columns)`` once per generation
batch, prompts repeated once per completion of their group. A grader error gives that
sample reward 0 (the grader already does) and is counted; a step whose error share is above
``max_error_rate`` raises :class:`GraderFailure` with sample tracebacks, which fails the job.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from openrft.errors import OpenRFTError
from openrft.graders import Grader, GraderRuntime, RunGraderResponse, grade_batch_async, make_sample

ITEM_COLUMN = "openrft_item"
"""Dataset column holding each row's item as JSON (TRL passes extra columns to rewards)."""


class GraderFailure(OpenRFTError):
    """Too many grader errors in one step: the job stops with examples."""


@dataclass
class StepGrades:
    """Everything one step's grading produced, for metrics and the rollout log."""

    prompts: list[Any] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    sub_rewards: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    errored_samples: int = 0
    latency_mean: float = 0.0
    seconds: float = 0.0

    def zero_variance_fraction(self) -> float:
        """Share of prompts whose completions all got the same reward (GRPO learns nothing there)."""
        groups: dict[str, list[float]] = defaultdict(list)
        for prompt, reward in zip(self.prompts, self.rewards, strict=True):
            groups[json.dumps(prompt, sort_keys=True)].append(reward)
        if not groups:
            return 0.0
        return sum(len(set(v)) == 1 for v in groups.values()) / len(groups)


def _text(completion: Any) -> str:
    if isinstance(completion, list):  # conversational: [{"role": "assistant", "content": ...}]
        return str(completion[-1].get("content") or "") if completion else ""
    return str(completion)


class GraderReward:
    """Callable reward for ``GRPOTrainer(reward_funcs=[...])`` backed by one grader."""

    def __init__(self, grader: Grader, *, runtime: GraderRuntime, max_error_rate: float, model_name: str):
        self.__name__ = grader.name  # TRL names the logged reward after this
        self.grader = grader
        self.runtime = runtime
        self.max_error_rate = max_error_rate
        self.model_name = model_name
        self.last = StepGrades()
        # One long-lived loop: sandbox pools and judge clients stay warm between steps.
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="openrft-grading", daemon=True)
        self._thread.start()

    def __call__(self, prompts: list[Any], completions: list[Any], **columns: Any) -> list[float]:
        texts = [_text(c) for c in completions]
        items = [json.loads(raw) for raw in columns.get(ITEM_COLUMN) or ["{}"] * len(texts)]
        pairs = [(make_sample(t, model=self.model_name), item) for t, item in zip(texts, items, strict=True)]
        started = time.perf_counter()
        future = asyncio.run_coroutine_threadsafe(
            grade_batch_async(self.grader, pairs, runtime=self.runtime), self._loop
        )
        responses = future.result()
        self.last = self._record(prompts, items, texts, responses, time.perf_counter() - started)
        self._check_errors(responses, texts)
        return [r.reward for r in responses]

    def _record(
        self,
        prompts: list[Any],
        items: list[dict[str, Any]],
        texts: list[str],
        responses: list[RunGraderResponse],
        seconds: float,
    ) -> StepGrades:
        subs: dict[str, list[float]] = defaultdict(list)
        for r in responses:
            for key, value in r.sub_rewards.items():
                subs[key].append(float(value))
        return StepGrades(
            prompts=list(prompts),
            items=items,
            texts=texts,
            rewards=[r.reward for r in responses],
            sub_rewards=dict(subs),
            errors=Counter(flag for r in responses for flag in r.errors.raised()),
            errored_samples=sum(bool(r.errors.raised()) for r in responses),
            latency_mean=statistics.fmean(r.metadata.execution_time for r in responses) if responses else 0.0,
            seconds=seconds,
        )

    def _check_errors(self, responses: list[RunGraderResponse], texts: list[str]) -> None:
        share = self.last.errored_samples / max(1, len(responses))
        if share <= self.max_error_rate:
            return
        examples = []
        for r, text in zip(responses, texts, strict=True):
            if r.errors.raised() and len(examples) < 3:
                detail = (
                    r.errors.python_grader_runtime_error_details
                    or r.errors.model_grader_server_error_details
                    or r.errors.python_grader_server_error_type
                    or ", ".join(r.errors.raised())
                )
                examples.append(f"--- sample {text[:80]!r}:\n{detail}")
        raise GraderFailure(
            f"grader errors on {share:.0%} of this step's samples (limit {self.max_error_rate:.0%}: "
            f"hyperparameter max_grader_error_rate); errors: {dict(self.last.errors)}\n"
            + "\n".join(examples),
            code="grader_error_rate",
        )

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
