"""The TRL callback that runs the job around GRPO's steps.

Per step (hooks in the order the Trainer calls them):

* ``on_step_end``: validate the policy every ``eval_interval`` steps (and at the last step)
  through the evals engine; ask for a checkpoint there; honour pause and cancel (agreed
  across processes, so that all of them stop at the same step).
* ``on_log`` (TRL's logs for the step are ready): write the step's metrics event in
  OpenAI's shape, its rollouts, and any reward-hacking alarm.
* ``on_save``: record the checkpoint event and keep the best three plus the latest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from transformers import TrainerCallback

from openrft.evals import Criterion, run_eval
from openrft.graders import GraderRuntime
from openrft.models import GenerationOptions, LocalBackend, LocalChatModel, SamplingBackend
from openrft.training._alarms import check_alarms
from openrft.training._control import JobControl
from openrft.training._events import EventLog
from openrft.training._hyper import Resolved
from openrft.training._metrics import ValidStats, rollout_groups, step_metrics
from openrft.training._reward import GraderReward
from openrft.training._step_metrics import Alarm


def duration(seconds: float) -> str:
    """``45 s``, ``2 min 10 s``, ``1 h 05 min``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def time_left(history: Sequence[dict[str, Any]], total_steps: int) -> str:
    """``", about 2 min 10 s left"``: the mean of the last ten steps' wall time (validations
    included) times the steps to go; empty after the last step."""
    if not history or history[-1]["step"] >= total_steps:
        return ""
    recent = [m["timing"]["step"]["full_iteration"] for m in history[-10:]]
    return f", about {duration(sum(recent) / len(recent) * (total_steps - history[-1]['step']))} left"


class JobCallback(TrainerCallback):
    def __init__(
        self,
        *,
        hp: Resolved,
        reward: GraderReward,
        criterion: Criterion,
        valid_rows: Sequence[Any],
        log: EventLog,
        control: JobControl,
        options: GenerationOptions,
        runtime: GraderRuntime,
        history: list[dict[str, Any]],
        score_scale: float = 1.0,
    ):
        self.hp = hp
        self.reward = reward
        self.criterion = criterion
        self.valid_rows = list(valid_rows)
        self.log = log
        self.job = control
        self.folder = log.folder
        self.options = options
        self.runtime = runtime
        self.history = history
        """Metrics of the steps so far, as stored (a resumed job's come from ``metrics.jsonl``)."""
        self.score_scale = score_scale
        self.trainer: Any = None
        """Set once the trainer exists: validation unwraps its (possibly sharded) model."""
        self.policy_backend: Callable[[], SamplingBackend] | None = None
        """Where validation samples the current policy when not in this process (a rollout server)."""
        self._step_started = time.perf_counter()
        self._pending: dict[str, Any] | None = None
        self._stop: tuple[bool, bool] = (False, False)

    # --- validation ---
    def _validate(self, model: Any, tokenizer: Any, step: int) -> ValidStats | None:
        if not self.valid_rows:
            return None
        started = time.perf_counter()
        if self.policy_backend is not None:  # the main process asks the rollout server
            return self._sample_valid(self.policy_backend(), step, started) if self.log.writer else None
        trainer = self.trainer
        if trainer is None:
            return self._sample_valid(self._in_process(model, tokenizer), step, started)
        from trl.models.utils import unwrap_model_for_generation

        # Every process enters (ZeRO-3 and FSDP gather weights collectively); the main one samples.
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator) as unwrapped:
            stats = (
                self._sample_valid(self._in_process(unwrapped, tokenizer), step, started)
                if self.log.writer
                else None
            )
        return stats

    @staticmethod
    def _in_process(model: Any, tokenizer: Any) -> SamplingBackend:
        return LocalBackend(LocalChatModel.from_loaded(model, tokenizer, name="policy"), name="policy")

    def _sample_valid(self, policy: SamplingBackend, step: int, started: float) -> ValidStats:
        options = GenerationOptions(
            temperature=self.options.temperature,
            max_tokens=self.options.max_tokens,
            seed=(self.options.seed or 0) + step,
            response_format=self.options.response_format,
        )
        # As many answers at once as one process samples in a rollout step, which the job already
        # fits in memory; on CPU one batch of 16 answers takes about half as long as two of 8.
        processes = self.trainer.accelerator.num_processes if self.trainer is not None else 1
        rollout = self.hp.batch_size * self.hp.num_generations // processes
        result = asyncio.run(
            run_eval(
                policy,
                self.valid_rows,
                [self.criterion],
                n_runs=self.hp.eval_samples,
                options=options,
                runtime=self.runtime,
                batch_size=max(1, rollout // self.hp.eval_samples),
            )
        )
        self.log.validation(step, [r.to_json() for r in result.records])
        return ValidStats.from_records(result.records, self.criterion.name, time.perf_counter() - started)

    def _agreed_stop(self, args: Any) -> tuple[bool, bool]:
        """(pause, cancel) as any process asked: all of them must stop at the same step."""
        flags = (self.job.paused, self.job.cancelled)
        if getattr(args, "world_size", 1) > 1:
            from accelerate.utils import gather_object

            everyone = gather_object([flags])
            flags = (any(p for p, _ in everyone), any(c for _, c in everyone))
        return flags

    # --- TRL hooks ---
    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._step_started = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        step = state.global_step
        grades = self.reward.last
        trained = time.perf_counter()
        at_interval = step % self.hp.eval_interval == 0 or step >= self.hp.total_steps
        valid = self._validate(kwargs["model"], kwargs["processing_class"], step) if at_interval else None
        pause, cancel = self._stop = self._agreed_stop(args)
        self._pending = {
            "step": step,
            "grades": grades,
            "valid": valid,
            "timing": {
                "sampling": max(0.0, grades.started - self._step_started),
                "grading": grades.seconds,
                "training": max(0.0, trained - grades.started - grades.seconds),
                "eval": valid.seconds if valid else 0.0,
            },
        }
        if at_interval or (pause and not cancel):
            if self.log.writer:
                self.folder.record_score(
                    step,
                    valid=valid.reward_mean if valid else None,
                    train=sum(grades.rewards) / max(1, len(grades.rewards)),
                    paused=pause and not cancel,
                )
            control.should_save = True
        if pause or cancel:
            control.should_training_stop = True

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        pending, self._pending = self._pending, None
        if pending is None or pending["step"] != state.global_step:
            return  # the end-of-training summary, or a log with no step behind it
        timing = {**pending["timing"], "full_iteration": time.perf_counter() - self._step_started}
        metrics = step_metrics(
            step=pending["step"],
            total_steps=self.hp.total_steps,
            grader=self.reward.grader,
            grades=pending["grades"],
            valid=pending["valid"],
            timing=timing,
            trl_logs=logs or {},
        )
        self.history.append(metrics.row())
        alarms = check_alarms(self.history, scale=self.score_scale)
        metrics.alarms = [Alarm.model_validate(a) for a in alarms]
        message = f"Step {metrics.step}/{self.hp.total_steps}, "
        message += f"train mean reward={metrics.train_mean_reward:.3f}"
        if pending["valid"] is not None:
            message += (
                f", full validation mean reward={metrics.full_valid_mean_reward:.3f}"
                f", full validation mean parse error={metrics.full_valid_mean_parse_error:.2f}"
            )
        message += time_left(self.history, self.hp.total_steps)
        self.log.metrics(metrics, message)
        self.log.rollouts(metrics.step, rollout_groups(pending["grades"]))
        for alarm in alarms:
            self.log.emit(
                f"Reward hacking alarm ({alarm['alarm']}) at step {metrics.step}: {alarm['message']}",
                level="warn",
                data={"step": metrics.step, **alarm},
            )

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.log.writer:
            return
        step = state.global_step
        path = self.folder.checkpoint_path(step)
        score = self.folder.score(step)
        self.log.emit(
            f"Checkpoint saved at step {step}",
            data={"step": step, "checkpoint": str(path), "metrics": {"step": step, **score}},
        )
        self.folder.prune(latest=step)
