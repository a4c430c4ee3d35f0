"""``run_training``: one RFT job, read top to bottom as its timeline.

load data → load the policy → grader as reward → GRPO (TRL) with validation, checkpoints
and the events log → export the best checkpoint to ``OUT/best``. A folder that already
holds checkpoints is resumed from the latest one (optimizer, scheduler, RNG and data order
come back through TRL's own checkpoint format).
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from openrft.config import Settings
from openrft.errors import InvalidRequestError
from openrft.evals import make_criteria, prompt_messages
from openrft.graders import GraderRuntime, validate_grader
from openrft.training._callback import JobCallback, JobControl, best_checkpoint
from openrft.training._events import EventLog, OnEvent
from openrft.training._hyper import Hyperparameters, Resolved, resolve
from openrft.training._reward import ITEM_COLUMN, GraderFailure, GraderReward

log = logging.getLogger(__name__)
_TRAINER_STATE_FILES = (
    "optimizer.pt",
    "scheduler.pt",
    "rng_state.pth",
    "trainer_state.json",
    "training_args.bin",
)


@dataclass
class TrainConfig:
    """One job: the model, the data, the grader and the hyperparameters."""

    model: str
    train_file: Path
    grader: dict[str, Any]
    out_dir: Path
    valid_file: Path | None = None
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    response_format: dict[str, Any] | None = None


@dataclass
class TrainResult:
    status: str
    """``succeeded``, ``paused`` or ``cancelled`` (failures raise)."""
    best_checkpoint: Path | None
    best_step: int | None
    hyperparameters: Resolved
    final_metrics: dict[str, Any] | None


def _load_rows(path: Path, split: str) -> list[Any]:
    from openrft.data import load_rft_jsonl

    return list(load_rft_jsonl(path, split=split).rows)


def _dataset(rows: Sequence[Any]) -> Any:
    from datasets import Dataset

    return Dataset.from_list(
        [{"prompt": prompt_messages(r.messages), ITEM_COLUMN: json.dumps(r.item)} for r in rows]
    )


def _load_policy(name: str, settings: Settings) -> tuple[Any, Any]:
    from openrft.models import resolve_model_path
    from openrft.models._resolve import set_offline

    set_offline()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model_path(name, settings.cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, local_files_only=True)
    return model, tokenizer


def _grpo_config(hp: Resolved, user: Hyperparameters, out: Path) -> Any:
    import torch
    from trl import GRPOConfig

    cpu = not torch.cuda.is_available()
    return GRPOConfig(
        output_dir=str(out),
        use_cpu=cpu,
        bf16=not cpu,
        gradient_checkpointing=False,
        per_device_train_batch_size=hp.batch_size * hp.num_generations,
        num_generations=hp.num_generations,
        max_completion_length=hp.max_completion_length,
        learning_rate=hp.learning_rate,
        lr_scheduler_type="constant",
        loss_type=user.loss_type,
        beta=user.beta,
        temperature=user.temperature,
        max_steps=hp.total_steps,
        num_train_epochs=hp.n_epochs,
        seed=user.seed,
        data_seed=user.seed,
        logging_steps=1,
        save_strategy="no",  # the callback asks for a checkpoint at each validation
        report_to=[],
        disable_tqdm=True,
    )


def _export_best(checkpoints: Path, out: Path) -> tuple[int, Path] | None:
    best = best_checkpoint(checkpoints)
    if best is None:
        return None
    step, source = best
    target = out / "best"
    tmp = out / ".best.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp, ignore=shutil.ignore_patterns(*_TRAINER_STATE_FILES))
    (tmp / "openrft-checkpoint.json").write_text(json.dumps({"step": step, "source": source.name}) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return step, target


def run_training(
    config: TrainConfig,
    *,
    control: JobControl | None = None,
    on_event: OnEvent | None = None,
    settings: Settings | None = None,
) -> TrainResult:
    """Run (or resume) one RFT job in ``config.out_dir``; blocks until it ends.

    Raises ``InvalidRequestError`` for a bad grader or data, and :class:`GraderFailure` when
    grader errors pass ``max_grader_error_rate``.
    """
    settings = settings or Settings()
    control = control or JobControl()
    out = Path(config.out_dir)
    events = EventLog(out, on_event)
    grader = validate_grader(config.grader)
    train_rows = _load_rows(config.train_file, "train")
    valid_rows = _load_rows(config.valid_file, "valid") if config.valid_file else []
    if not train_rows:
        raise InvalidRequestError("the training file has no rows", param="training_file")
    hp = resolve(config.hyperparameters, len(train_rows))
    checkpoints = out / "checkpoints"
    present = sorted(checkpoints.glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]))
    resume_from = str(present[-1]) if present else None
    if resume_from:
        step = int(Path(resume_from).name.rsplit("-", 1)[1])
        events.truncate_after(step)
        events.emit(f"Resuming from step {step}")
    else:
        events.emit(f"Training {config.model} on {len(train_rows)} prompts: {json.dumps(asdict(hp))}")

    model, tokenizer = _load_policy(config.model, settings)
    runtime = GraderRuntime(settings)
    reward = GraderReward(
        grader,
        runtime=runtime,
        max_error_rate=config.hyperparameters.max_grader_error_rate,
        model_name=config.model,
    )
    callback = JobCallback(
        hp=hp,
        reward=reward,
        criteria=make_criteria([grader]),
        valid_rows=valid_rows,
        log=events,
        control=control,
        checkpoints_dir=checkpoints,
        temperature=config.hyperparameters.temperature,
        seed=config.hyperparameters.seed,
    )
    from trl import GRPOTrainer

    peft_config = None
    if config.hyperparameters.lora:
        from peft import LoraConfig

        rank = config.hyperparameters.lora_rank
        peft_config = LoraConfig(
            r=rank, lora_alpha=2 * rank, target_modules="all-linear", task_type="CAUSAL_LM"
        )
    from transformers.trainer_callback import PrinterCallback
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    # transformers 5.23 warns about TRL 1.16 reading its deprecated gradient_checkpointing names.
    warnings.filterwarnings(
        "ignore", message=r".*gradient_checkpointing.* is deprecated", category=FutureWarning
    )
    trainer = GRPOTrainer(
        model=model,
        processing_class=tokenizer,
        reward_funcs=[reward],
        args=_grpo_config(hp, config.hyperparameters, checkpoints),
        train_dataset=_dataset(train_rows),
        peft_config=peft_config,
        callbacks=[callback],
    )
    trainer.remove_callback(PrinterCallback)  # our events log and live view report progress
    try:
        trainer.train(resume_from_checkpoint=resume_from)
    except GraderFailure as exc:
        events.emit(exc.message, level="error")
        raise
    finally:
        reward.close()
        runtime.close()
    status = "cancelled" if control.cancelled else "paused" if control.paused else "succeeded"
    exported = _export_best(checkpoints, out) if status == "succeeded" else None
    from openrft.training._events import read_metrics

    metrics = read_metrics(out)
    if exported:
        events.emit(f"Best checkpoint: step {exported[0]} → {exported[1]}")
    events.emit(f"Job {status}", level="info")
    return TrainResult(
        status=status,
        best_checkpoint=exported[1] if exported else None,
        best_step=exported[0] if exported else None,
        hyperparameters=hp,
        final_metrics=metrics[-1] if metrics else None,
    )
