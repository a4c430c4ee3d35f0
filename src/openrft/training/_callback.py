"""The TRL callback that turns each GRPO step into OpenAI's metrics event, validates the policy
every ``eval_interval`` steps, asks for a checkpoint there, keeps the best three plus the
latest, and obeys pause and cancel.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from openrft.evals import Criterion, run_eval
from openrft.models import GenerationOptions, LocalBackend, LocalChatModel
from openrft.training._events import EventLog
from openrft.training._hyper import Resolved
from openrft.training._reward import GraderReward

KEEP_BEST = 3


class JobControl:
    """Thread-safe requests from outside the training loop, honoured between steps."""

    def __init__(self) -> None:
        self._pause = threading.Event()
        self._cancel = threading.Event()

    def pause(self) -> None:
        """Finish the current step, checkpoint, stop with status ``paused``."""
        self._pause.set()

    def cancel(self) -> None:
        """Stop after the current step with status ``cancelled``."""
        self._cancel.set()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()


class JobCallback(TrainerCallback):
    def __init__(
        self,
        *,
        hp: Resolved,
        reward: GraderReward,
        criteria: Sequence[Criterion],
        valid_rows: Sequence[Any],
        log: EventLog,
        control: JobControl,
        checkpoints_dir: Path,
        temperature: float,
        seed: int,
    ):
        self.hp = hp
        self.reward = reward
        self.criteria = list(criteria)
        self.valid_rows = list(valid_rows)
        self.log = log
        self.job = control
        self.checkpoints_dir = checkpoints_dir
        self.temperature = temperature
        self.seed = seed
        self.scores_path = checkpoints_dir / "scores.json"
        self._step_started = time.perf_counter()
        self._last_valid: float | None = None

    # --- helpers ---
    def _validate(self, model: Any, tokenizer: Any, step: int) -> dict[str, Any] | None:
        if not self.valid_rows:
            return None
        policy = LocalBackend(LocalChatModel.from_loaded(model, tokenizer, name="policy"), name="policy")
        options = GenerationOptions(
            temperature=self.temperature, max_tokens=self.hp.max_completion_length, seed=self.seed + step
        )
        result = asyncio.run(
            run_eval(policy, self.valid_rows, self.criteria, n_runs=self.hp.eval_samples, options=options)
        )
        summary = result.summary()["models"]["policy"]
        return {
            "valid_reward_mean": summary["mean"],
            "valid_reasoning_tokens_mean": summary["tokens"]["reasoning_mean"],
            "valid_completion_tokens_mean": summary["tokens"]["completion_mean"],
            "valid_errors": summary["errors"],
            "valid_criteria": {k: v["mean"] for k, v in summary["criteria"].items()},
        }

    def _metrics(self, step: int, seconds: float, valid: dict[str, Any] | None, eval_seconds: float) -> dict:
        g = self.reward.last
        n = max(1, len(g.rewards))
        train_mean = statistics.fmean(g.rewards) if g.rewards else 0.0
        grader = self.reward.grader
        graders = [{"name": grader.name, "type": grader.type, "train_reward_mean": train_mean}]
        graders += [
            {"name": k, "type": "sub", "train_reward_mean": statistics.fmean(v)}
            for k, v in g.sub_rewards.items()
        ]
        if valid:
            graders[0]["valid_reward_mean"] = valid["valid_reward_mean"]
        errors = {"name": grader.name, "type": grader.type}
        for flag, count in g.errors.items():
            errors[f"train_{flag}_mean"] = count / n
            errors[f"train_{flag}_count"] = count
        for flag, count in (valid or {}).get("valid_errors", {}).items():
            errors[f"valid_{flag}_count"] = count
        lengths = [len(t) for t in g.texts]
        return {
            "step": step,
            "total_steps": self.hp.total_steps,
            "scores": {
                "train_reward_mean": train_mean,
                "valid_reward_mean": valid["valid_reward_mean"] if valid else None,
                "graders": graders,
            },
            "errors": {"graders": [errors]},
            "timing": {
                "step": {
                    "sampling_and_training": max(0.0, seconds - g.seconds - eval_seconds),
                    "grading": g.seconds,
                    "eval": eval_seconds,
                    "full_iteration": seconds,
                },
                "graders": [
                    {"name": grader.name, "type": grader.type, "train_execution_latency_mean": g.latency_mean}
                ],
            },
            "train_mean_reward": train_mean,
            "full_valid_mean_reward": valid["valid_reward_mean"] if valid else None,
            "completion_chars_mean": statistics.fmean(lengths) if lengths else 0.0,
            "valid_reasoning_tokens_mean": valid["valid_reasoning_tokens_mean"] if valid else None,
            "zero_variance_group_fraction": g.zero_variance_fraction(),
            "grader_error_rate": g.errored_samples / n,
        }

    def _record_checkpoint(self, step: int, valid: float | None, train: float) -> None:
        scores = json.loads(self.scores_path.read_text()) if self.scores_path.exists() else {}
        scores[str(step)] = {"valid_reward_mean": valid, "train_reward_mean": train}
        self.scores_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.scores_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(scores, indent=1))
        tmp.replace(self.scores_path)

    # --- TRL hooks ---
    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._step_started = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        step = state.global_step
        valid, eval_seconds = None, 0.0
        at_interval = step % self.hp.eval_interval == 0 or step >= self.hp.total_steps
        stopping = self.job.paused or self.job.cancelled
        if at_interval:
            started = time.perf_counter()
            valid = self._validate(kwargs["model"], kwargs["processing_class"], step)
            eval_seconds = time.perf_counter() - started
        metrics = self._metrics(step, time.perf_counter() - self._step_started, valid, eval_seconds)
        message = f"Step {step}/{self.hp.total_steps}, train mean reward={metrics['train_mean_reward']:.3f}"
        if valid:
            message += f", full validation mean reward={valid['valid_reward_mean']:.3f}"
        self.log.metrics(metrics, message)
        if at_interval or (self.job.paused and not self.job.cancelled):
            self._record_checkpoint(
                step, valid["valid_reward_mean"] if valid else None, metrics["train_mean_reward"]
            )
            control.should_save = True
        if stopping:
            control.should_training_stop = True

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        prune_checkpoints(self.checkpoints_dir, latest=state.global_step)


def prune_checkpoints(folder: Path, *, latest: int) -> None:
    """Keep the best ``KEEP_BEST`` checkpoints by valid reward, plus the latest."""
    scores_path = folder / "scores.json"
    scores = json.loads(scores_path.read_text()) if scores_path.exists() else {}
    ranked = sorted(
        (int(s) for s, v in scores.items() if v.get("valid_reward_mean") is not None),
        key=lambda s: (-scores[str(s)]["valid_reward_mean"], -s),
    )
    keep = set(ranked[:KEEP_BEST]) | {latest}
    for path in folder.glob("checkpoint-*"):
        step = int(path.name.rsplit("-", 1)[1])
        if step not in keep:
            shutil.rmtree(path, ignore_errors=True)


def best_checkpoint(folder: Path) -> tuple[int, Path] | None:
    """The kept checkpoint with the highest valid reward (else the latest)."""
    scores_path = folder / "scores.json"
    scores = json.loads(scores_path.read_text()) if scores_path.exists() else {}
    present = {int(p.name.rsplit("-", 1)[1]): p for p in folder.glob("checkpoint-*") if p.is_dir()}
    if not present:
        return None
    rated = [s for s in present if (scores.get(str(s)) or {}).get("valid_reward_mean") is not None]
    step = max(rated, key=lambda s: (scores[str(s)]["valid_reward_mean"], s)) if rated else max(present)
    return step, present[step]
