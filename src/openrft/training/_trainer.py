"""TRL's ``GRPOTrainer`` with the three gaps an exact, crash-safe resume needs filled.

1. **Atomic checkpoints.** transformers writes ``checkpoint-N`` in place; here the Trainer
   saves into a staging folder that is fsynced and renamed into place (``_checkpoints``).
2. **Data order per epoch.** TRL's ``RepeatSampler`` draws each epoch's shuffle from one
   generator that advances as epochs go by, and a resumed Trainer starts a fresh one: a job
   resumed in its second epoch would see the first epoch's order again. Our sampler seeds
   each epoch's shuffle with ``seed + epoch`` (the Trainer calls ``set_epoch``), so the order
   depends on the epoch alone.
3. **Constrained rollouts.** With a ``response_format`` JSON schema, rollouts are decoded
   under the same outlines-core automaton that :mod:`openrft.models` uses for sampling.

Optimizer, scheduler, RNG states (python, numpy, torch) and the step counter come back
through the Trainer's own ``resume_from_checkpoint``; a test kills a job with SIGKILL and
checks that the resumed run ends with the same weights and metrics.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trl import GRPOTrainer
from trl.trainer.utils import RepeatSampler

from openrft.training._checkpoints import PREFIX, STAGING, publish


class EpochSeededRepeatSampler(RepeatSampler):
    """TRL's sampler, with each epoch's permutation drawn from ``seed + epoch``."""

    def set_epoch(self, epoch: int) -> None:
        if self.shuffle:
            self.generator.manual_seed((self.seed or 0) + epoch)


class JobTrainer(GRPOTrainer):
    """``GRPOTrainer`` with atomic checkpoints and an epoch-seeded data order."""

    _staging_dir: str | None = None

    def _get_train_sampler(self, dataset: Any = None) -> Any:
        trl = super()._get_train_sampler(dataset)  # TRL's sizes and repeats, then our seeding
        assert isinstance(trl, RepeatSampler)
        return EpochSeededRepeatSampler(
            data_source=trl.data_source,
            mini_repeat_count=trl.mini_repeat_count,
            batch_size=trl.batch_size,
            repeat_count=trl.repeat_count,
            shuffle=trl.shuffle,
            seed=trl.seed,
        )

    def _get_output_dir(self, trial: Any) -> str:
        return self._staging_dir or super()._get_output_dir(trial)

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        assert self.args.output_dir is not None  # TrainingArguments fills in a default
        run_dir = Path(self.args.output_dir)
        name = f"{PREFIX}{self.state.global_step}"
        staging = run_dir / f"{STAGING}{self.state.global_step}"
        main = self.accelerator.is_main_process
        if main:
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
        self.accelerator.wait_for_everyone()
        self._staging_dir = str(staging)
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging_dir = None
        self.accelerator.wait_for_everyone()  # every process has written its RNG state
        if main:
            publish(staging / name, run_dir / name)
            shutil.rmtree(staging, ignore_errors=True)
        self.accelerator.wait_for_everyone()


def constrain_generation(model: Any, tokenizer: Any, json_schema: Mapping[str, Any]) -> None:
    """Make ``model.generate`` decode under ``json_schema`` unless a caller brings its own processors.

    TRL calls ``generate`` with only ids, mask and a generation config; validation
    (:class:`openrft.models.LocalChatModel`) passes its own JSON processor and is left alone.
    """
    from transformers import LogitsProcessorList

    from openrft.models._constrained import JsonIndexCache, JsonLogitsProcessor

    eos = int(tokenizer.eos_token_id)
    index = JsonIndexCache(tokenizer, eos).index_for(json_schema)
    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    original = target.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("logits_processor"):
            return original(*args, **kwargs)
        ids = kwargs["input_ids"]
        config = kwargs.get("generation_config")
        rows = ids.shape[0] * int(getattr(config, "num_return_sequences", None) or 1)
        kwargs["logits_processor"] = LogitsProcessorList(
            [JsonLogitsProcessor(index, rows, ids.shape[1], eos)]
        )
        return original(*args, **kwargs)

    target.generate = generate
