"""The grader batch API as a TRL reward function, recording what each step's grading saw.

TRL calls ``reward(prompts, completions, completion_ids, **columns)`` once per generation
batch on every process, each with its own slice (prompts repeated once per completion of
their group). A grader error gives that sample reward 0 (OpenAI's rule) and is counted.
When more than ``max_error_rate`` of the samples graded over the last ``window`` steps hit
errors, :class:`GraderFailure` is raised (on every process at once) with sample tracebacks,
which fails the job before the step's update.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from openrft.errors import OpenRFTError
from openrft.graders import Grader, GraderRuntime, RunGraderResponse, grade_batch_async, make_sample
from openrft.models import count_reasoning_tokens, parse_tool_calls

ITEM_COLUMN = "openrft_item"
"""Dataset column holding each row's item as JSON (TRL passes extra columns to rewards)."""
POLICY_COLUMN = "openrft_policy"
"""Rollout column naming the policy version a rollout server sampled with (``_rollouts.py``)."""
TOOLS_COLUMN = "openrft_tools"
"""Dataset column holding each row's ``tools`` as JSON (rows with tools only): calls to them are
parsed from the completion into ``sample.output_tools``."""
LOGPROBS_COLUMN = "openrft_logprobs"
"""Rollout column: the rollout server's log-probability of each sampled token."""
MAX_EXAMPLES = 3


class GraderFailure(OpenRFTError):
    """Too many grader errors: the job stops, with examples."""

    type = "server_error"
    status_code = 500


@dataclass
class StepGrades:
    """Everything one step's grading produced (all processes merged), in TRL's batch order."""

    group_size: int = 1
    prompts: list[Any] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    sub_rewards: list[dict[str, float]] = field(default_factory=list)
    errors: list[list[str]] = field(default_factory=list)
    error_details: list[str | None] = field(default_factory=list)
    completion_tokens: list[int] = field(default_factory=list)
    reasoning_tokens: list[int] = field(default_factory=list)
    truncated: list[bool] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    policies: list[str | None] = field(default_factory=list)
    """The policy version that sampled each completion on a rollout server (None: in-process)."""
    token_ids: list[list[int]] = field(default_factory=list)
    logprobs: list[list[float] | None] = field(default_factory=list)
    """The rollout server's log-probability of each sampled token (None: in-process)."""
    judge_usage: dict[str, dict[str, int]] = field(default_factory=dict)
    started: float = 0.0
    """``time.perf_counter()`` when grading began (the end of sampling)."""
    seconds: float = 0.0

    @classmethod
    def merge(cls, parts: Sequence[StepGrades]) -> StepGrades:
        """One record from every process's record, in process order (TRL's global order)."""
        out = cls(group_size=parts[0].group_size, started=min(p.started for p in parts))
        out.seconds = max(p.started + p.seconds for p in parts) - out.started
        for part in parts:
            for name in (
                "prompts",
                "items",
                "texts",
                "rewards",
                "sub_rewards",
                "errors",
                "error_details",
                "completion_tokens",
                "reasoning_tokens",
                "truncated",
                "latencies",
                "policies",
                "token_ids",
                "logprobs",
            ):
                getattr(out, name).extend(getattr(part, name))
            for model, usage in part.judge_usage.items():
                total = out.judge_usage.setdefault(model, Counter())
                total.update(usage)
        out.judge_usage = {m: dict(u) for m, u in out.judge_usage.items()}
        return out

    @property
    def errored(self) -> int:
        return sum(bool(e) for e in self.errors)

    def groups(self) -> list[range]:
        """Index ranges of each prompt's completions (consecutive, ``group_size`` each)."""
        n = len(self.rewards)
        return [range(i, min(i + self.group_size, n)) for i in range(0, n, self.group_size)]

    def zero_variance_fraction(self) -> float:
        """Share of prompts whose completions all got the same reward (GRPO learns nothing there)."""
        groups = self.groups()
        if not groups:
            return 0.0
        return sum(len({self.rewards[i] for i in g}) == 1 for g in groups) / len(groups)

    def advantages(self) -> list[float]:
        """Each completion's reward minus its group's mean, over the group's std (TRL's default)."""
        out = [0.0] * len(self.rewards)
        for g in self.groups():
            values = [self.rewards[i] for i in g]
            mean = statistics.fmean(values)
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            for i in g:
                out[i] = (self.rewards[i] - mean) / (std + 1e-4)
        return out

    def error_counts(self) -> Counter[str]:
        return Counter(flag for flags in self.errors for flag in flags)


def _text(completion: Any) -> str:
    if isinstance(completion, list):  # conversational: [{"role": "assistant", "content": ...}]
        return str(completion[-1].get("content") or "") if completion else ""
    return str(completion)


def _detail(response: RunGraderResponse) -> str | None:
    e = response.errors
    if not e.raised():
        return None
    return (
        e.python_grader_runtime_error_details
        or e.model_grader_server_error_details
        or e.python_grader_server_error_type
        or ", ".join(e.raised())
    )


Gather = Callable[[StepGrades], list[StepGrades]]


class GraderReward:
    """Callable reward for ``GRPOTrainer(reward_funcs=[...])`` backed by one grader.

    Args:
        grader: the parsed grader.
        runtime: sandbox pools and judge clients, shared with validation and the preflight.
        max_error_rate: the share of errored samples in the window that fails the job.
        window: steps in that window.
        model_name: ``sample.model`` for the grader.
        group_size: completions per prompt.
        tokenizer: decodes completion ids to count reasoning tokens.
        gather: merges the processes' records (every process gets all); single process: itself.
    """

    def __init__(
        self,
        grader: Grader,
        *,
        runtime: GraderRuntime,
        max_error_rate: float,
        window: int,
        model_name: str,
        group_size: int,
        tokenizer: Any = None,
        gather: Gather | None = None,
    ):
        self.__name__ = grader.name  # TRL names the logged reward after this
        self.grader = grader
        self.runtime = runtime
        self.max_error_rate = max_error_rate
        self.model_name = model_name
        self.group_size = group_size
        self.tokenizer = tokenizer
        self.gather = gather or (lambda grades: [grades])
        self.window: deque[tuple[int, int]] = deque(maxlen=window)
        """(errored, graded) per recent step; a resumed job refills it from ``metrics.jsonl``."""
        self.last = StepGrades(group_size=group_size)
        # One long-lived loop: sandbox pools and judge clients stay warm between steps.
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="openrft-grading", daemon=True)
        self._thread.start()

    # The return type is TRL's for a reward function (None: no reward), though every one is a float here.
    def __call__(self, prompts: list[Any], completions: list[Any], **columns: Any) -> list[float | None]:
        started = time.perf_counter()
        texts = [_text(c) for c in completions]
        ids: list[list[int]] = [list(map(int, c)) for c in columns.get("completion_ids") or [[]] * len(texts)]
        items = [json.loads(raw) for raw in columns.get(ITEM_COLUMN) or ["{}"] * len(texts)]
        truncated = [self._truncated(c) for c in ids]
        tools = [json.loads(raw) if raw else None for raw in columns.get(TOOLS_COLUMN) or [None] * len(texts)]
        pairs = [
            (self._sample(t, row_tools, "length" if cut else "stop"), item)
            for t, row_tools, item, cut in zip(texts, tools, items, truncated, strict=True)
        ]
        future = asyncio.run_coroutine_threadsafe(
            grade_batch_async(self.grader, pairs, runtime=self.runtime), self._loop
        )
        responses = future.result()
        local = self._record(prompts, items, texts, ids, truncated, responses, started)
        local.policies = list(columns.get(POLICY_COLUMN) or [None] * len(texts))
        local.logprobs = list(columns.get(LOGPROBS_COLUMN) or [None] * len(texts))
        self.last = StepGrades.merge(self.gather(local))
        self._check_errors()
        return [r.reward for r in responses]

    def _sample(self, text: str, tools: list[dict[str, Any]] | None, finish: str) -> dict[str, Any]:
        """The grader's sample; with tools, the calls in ``output_tools`` and the rest as text."""
        if not tools:
            return make_sample(text, model=self.model_name, finish_reason=finish)
        content, calls = parse_tool_calls(self.tokenizer, text, tools, model=self.model_name)
        output_tools = [call.to_openai() for call in calls]
        return make_sample(content, output_tools=output_tools, model=self.model_name, finish_reason=finish)

    def _truncated(self, ids: list[int]) -> bool:
        eos = getattr(self.tokenizer, "eos_token_id", None)
        return eos is not None and (not ids or ids[-1] != eos)

    def _reasoning(self, ids: list[int]) -> int:
        if self.tokenizer is None or not ids:
            return 0
        return count_reasoning_tokens(
            ids, lambda x: self.tokenizer.decode(list(x), skip_special_tokens=False)
        )

    def _record(
        self,
        prompts: list[Any],
        items: list[dict[str, Any]],
        texts: list[str],
        ids: list[list[int]],
        truncated: list[bool],
        responses: list[RunGraderResponse],
        started: float,
    ) -> StepGrades:
        usage: dict[str, Counter[str]] = {}
        for r in responses:
            for model, tokens in r.model_grader_token_usage_per_model.items():
                usage.setdefault(model, Counter()).update(tokens.model_dump())
        return StepGrades(
            group_size=self.group_size,
            prompts=list(prompts),
            items=items,
            texts=texts,
            rewards=[float(r.reward) for r in responses],
            sub_rewards=[{k: float(v) for k, v in r.sub_rewards.items()} for r in responses],
            errors=[r.errors.raised() for r in responses],
            error_details=[_detail(r) for r in responses],
            completion_tokens=[len(c) for c in ids],
            token_ids=ids,
            reasoning_tokens=[self._reasoning(c) for c in ids],
            truncated=truncated,
            latencies=[r.metadata.execution_time for r in responses],
            judge_usage={m: dict(u) for m, u in usage.items()},
            started=started,
            seconds=time.perf_counter() - started,
        )

    def _check_errors(self) -> None:
        g = self.last
        self.window.append((g.errored, len(g.rewards)))
        errored, graded = (sum(x) for x in zip(*self.window, strict=True))
        share = errored / max(1, graded)
        if share <= self.max_error_rate:
            return
        examples = [
            f"--- sample {text[:80]!r}:\n{detail}"
            for text, detail in zip(g.texts, g.error_details, strict=True)
            if detail is not None
        ][:MAX_EXAMPLES]
        raise GraderFailure(
            f"grader errors on {share:.0%} of the last {len(self.window)} step(s)' samples "
            f"({errored}/{graded}; limit {self.max_error_rate:.0%}, hyperparameter max_grader_error_rate); "
            f"errors by type: {dict(g.error_counts())}\n" + "\n".join(examples),
            code="grader_error_rate",
        )

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
