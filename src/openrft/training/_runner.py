"""``run_training``: one RFT job, read top to bottom as its timeline.

check the inputs → find the resume point → load the policy → preflight → grader as reward →
GRPO (TRL) with validation, checkpoints, metrics and alarms → export the best checkpoint
to ``OUT/best``. A folder that already holds a checkpoint is resumed from the latest one.
Under ``accelerate launch`` every process runs this; only the main one writes the record.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from openrft.config import Settings
from openrft.data import Split
from openrft.errors import InvalidRequestError, OpenRFTError
from openrft.evals import make_criterion, prompt_messages
from openrft.graders import Grader, GraderRuntime, validate_grader
from openrft.models import GenerationOptions, render_prompt
from openrft.training._callback import JobCallback
from openrft.training._config import TrainConfig, TrainResult
from openrft.training._control import JobControl
from openrft.training._events import EventLog, OnEvent
from openrft.training._folder import JobFolder
from openrft.training._hyper import Hyperparameters, Resolved, reference_texts, resolve
from openrft.training._reward import ITEM_COLUMN, TOOLS_COLUMN, GraderReward


def _world() -> tuple[int, int]:
    """(this process's rank, number of processes) as ``accelerate launch`` / torchrun set them."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _broadcast(value: Any, world: int) -> Any:
    """The main process's ``value``, on every process."""
    if world == 1:
        return value
    import torch
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    PartialState(cpu=not torch.cuda.is_available())  # the state the Trainer will use too
    return broadcast_object_list([value], from_process=0)[0]


def _gather(world: int) -> Any:
    if world == 1:
        return None
    from accelerate.utils import gather_object

    return lambda grades: list(gather_object([grades]))


def _load_rows(path: Path, split: Split) -> list[Any]:
    from openrft.data import load_rft_jsonl

    return list(load_rft_jsonl(path, split=split).rows)


def _dataset(rows: Sequence[Any], tokenizer: Any, model: str) -> Any:
    """TRL's dataset: conversational prompts; when rows have ``tools``, prompts rendered here with
    each row's tools (TRL renders every prompt with the same tools) and those tools in a column."""
    from datasets import Dataset

    if not any(r.item.get("tools") for r in rows):
        return Dataset.from_list(
            [{"prompt": prompt_messages(r.messages), ITEM_COLUMN: json.dumps(r.item)} for r in rows]
        )
    return Dataset.from_list(
        [
            {
                "prompt": _prompt_text(tokenizer, prompt_messages(r.messages), r.item.get("tools"), model),
                ITEM_COLUMN: json.dumps(r.item),
                TOOLS_COLUMN: json.dumps(r.item["tools"]) if r.item.get("tools") else "",
            }
            for r in rows
        ]
    )


def _prompt_text(tokenizer: Any, messages: list[dict[str, Any]], tools: Any, model: str) -> str:
    text = render_prompt(tokenizer, messages, tools or None, model=model)
    bos = tokenizer.bos_token
    # TRL tokenizes text prompts with the special tokens the tokenizer adds: no second BOS.
    if bos and text.startswith(bos) and tokenizer("")["input_ids"][:1] == [tokenizer.bos_token_id]:
        text = text[len(bos) :]
    return text


def _load_policy(name: str, settings: Settings) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from openrft.models import resolve_model_path

    path = resolve_model_path(name, settings.cache_dir)
    if (path / "adapter_config.json").is_file():
        raise InvalidRequestError(
            f"{name} is a LoRA adapter; train from its base model, or merge it first", param="model"
        )
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise InvalidRequestError(f"{name} has no chat template", param="model", code="model_not_supported")
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, local_files_only=True)
    return model, tokenizer


def _on_gpu() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _reference_tokens(config: TrainConfig, rows: Sequence[Any], settings: Settings) -> list[int]:
    """The training rows' reference answers in the policy's tokens, when the completion length is
    left to them (``reasoning_effort`` ``default``, no ``max_completion_length``)."""
    hp = config.hyperparameters
    if hp.max_completion_length is not None or hp.reasoning_effort != "default":
        return []
    texts = reference_texts([r.item for r in rows], config.grader)
    if not texts:
        return []
    from transformers import AutoTokenizer

    from openrft.models import resolve_model_path

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(config.model, settings.cache_dir))
    return [len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts]


def _check_shapes(hp: Resolved, world: int) -> None:
    completions = hp.batch_size * hp.num_generations
    if completions % world:
        raise InvalidRequestError(
            f"batch_size ({hp.batch_size}) × completions per prompt ({hp.num_generations}) = {completions} "
            f"must be divisible by the number of processes ({world})",
            param="hyperparameters.batch_size",
        )


def _grpo_config(hp: Resolved, user: Hyperparameters, out: Path, world: int) -> Any:
    import torch
    from trl import GRPOConfig

    cpu = not torch.cuda.is_available()
    completions = hp.batch_size * hp.num_generations // world
    # Each process splits its completions into micro-batches whose gradients accumulate; one
    # generation still covers the whole step (steps_per_generation follows the accumulation).
    micro = math.gcd(hp.micro_batch_size or completions, completions)
    return GRPOConfig(
        output_dir=str(out),
        use_cpu=cpu,
        bf16=not cpu,
        gradient_checkpointing=False,  # small models: recomputation only costs time
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=completions // micro,
        num_generations=hp.num_generations,
        max_completion_length=hp.max_completion_length,
        learning_rate=hp.learning_rate,
        lr_scheduler_type=user.lr_scheduler,
        loss_type=user.loss_type,
        beta=user.beta,
        temperature=hp.temperature,
        max_steps=hp.total_steps,
        num_train_epochs=hp.n_epochs,
        seed=user.seed,
        data_seed=user.seed,
        logging_steps=1,
        save_strategy="no",  # the callback asks for a checkpoint at each validation
        report_to=[],
        ddp_find_unused_parameters=False,
        disable_tqdm=True,
    )


def _peft_config(user: Hyperparameters) -> Any:
    if not user.lora:
        return None
    from peft import LoraConfig

    rank = user.lora_rank
    return LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear", task_type="CAUSAL_LM")


def _options(config: TrainConfig, hp: Resolved) -> GenerationOptions:
    options = GenerationOptions(
        temperature=hp.temperature,
        max_tokens=hp.max_completion_length,
        seed=config.hyperparameters.seed,
        response_format=config.response_format,
    )
    problem = options.response_format_problem()
    if problem:
        raise InvalidRequestError(f"response_format {problem}", param="response_format")
    return options


def _preflight(
    config: TrainConfig,
    grader: Grader,
    rows: list[Any],
    hp: Resolved,
    policy: tuple[Any, Any],
    options: GenerationOptions,
    runtime: GraderRuntime,
    events: EventLog,
    world: int,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any] | None:
    """Run the preflight on the main process (once per job) and share its verdict."""
    saved = events.folder.preflight() if events.writer else None
    outcome: dict[str, Any] = {}
    if saved is not None:
        outcome = {"report": saved}
    elif events.writer:
        from openrft.models import LocalBackend, LocalChatModel
        from openrft.training._preflight import run_preflight

        backend = LocalBackend(LocalChatModel.from_loaded(*policy, name=config.model))
        try:
            report = run_preflight(
                grader,
                rows,
                backend=backend,
                generations=hp.num_generations,
                options=options,
                allow=config.allow_exploits,
                runtime=runtime,
                seed=config.hyperparameters.seed,
                on_progress=on_progress,
            )
        except InvalidRequestError as exc:
            outcome = {"error": exc.message, "param": exc.param, "code": exc.code}
        else:
            events.folder.write_preflight(report)
            outcome = {"report": report}
            _report_preflight(report, events)
    outcome = _broadcast(outcome, world)
    if "error" in outcome:
        raise InvalidRequestError(outcome["error"], param=outcome["param"], code=outcome["code"])
    return outcome.get("report")


def _report_preflight(report: dict[str, Any], events: EventLog) -> None:
    base = report["base"] or {}
    exploits = ", ".join(f"{k} {v:.2f}" for k, v in report["exploits"].items())
    message = f"Preflight on {report['items']} training prompts: exploits score {exploits}"
    if base:
        message += (
            f"; base model reward {base['reward_mean']:.3f}, learnable prompts "
            f"{base['learnable_prompts']}/{report['items']} ({base['learnable_fraction']:.0%})"
        )
    events.emit(message, data={"preflight": report})
    for warning in report["warnings"]:
        events.emit(f"Preflight: {warning}", level="warn")


def _refill_window(reward: GraderReward, history: list[dict[str, Any]]) -> None:
    for m in history[-(reward.window.maxlen or 1) :]:
        reward.window.append((int(m.get("grader_errored_samples", 0)), int(m.get("samples", 0))))


def _train(
    config: TrainConfig,
    *,
    grader: Grader,
    hp: Resolved,
    train_rows: list[Any],
    valid_rows: list[Any],
    policy: tuple[Any, Any],
    options: GenerationOptions,
    runtime: GraderRuntime,
    events: EventLog,
    control: JobControl,
    resume_from: Path | None,
    world: int,
    settings: Settings,
) -> tuple[bool, bool]:
    """GRPO until done, paused or cancelled; returns the (paused, cancelled) the processes agreed on."""
    from transformers import set_seed
    from transformers.trainer_callback import PrinterCallback
    from transformers.utils import logging as hf_logging

    from openrft.training._trainer import JobTrainer, constrain_generation

    model, tokenizer = policy
    user = config.hyperparameters
    reward = GraderReward(
        grader,
        runtime=runtime,
        max_error_rate=user.max_grader_error_rate,
        window=user.grader_error_window,
        model_name=config.model,
        group_size=hp.num_generations,
        tokenizer=tokenizer,
        gather=_gather(world),
    )
    history = [m.row() for m in events.folder.metrics()]
    _refill_window(reward, history)
    low, high = grader.score_range() or (0.0, 1.0)
    callback = JobCallback(
        hp=hp,
        reward=reward,
        criterion=make_criterion(grader),
        valid_rows=valid_rows,
        log=events,
        control=control,
        options=options,
        runtime=runtime,
        history=history,
        score_scale=(high - low) or 1.0,
    )
    schema = options.json_schema
    hf_logging.disable_progress_bar()
    # transformers 5.23 warns about TRL 1.16 reading its deprecated gradient_checkpointing names.
    warnings.filterwarnings(
        "ignore", message=r".*gradient_checkpointing.* is deprecated", category=FutureWarning
    )
    args = _grpo_config(hp, user, events.folder.checkpoints_dir, world)
    rollouts = _server_rollouts(config, settings, tokenizer, hp, options, events)
    if rollouts is not None:
        callback.policy_backend = rollouts.policy_backend
    elif schema is not None:
        constrain_generation(model, tokenizer, schema)
    set_seed(user.seed)  # LoRA's initial weights are drawn while the trainer is built
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="You are using 'rollout_func'", category=UserWarning)
        trainer = JobTrainer(
            model=model,
            processing_class=tokenizer,
            reward_funcs=[reward],
            args=args,
            train_dataset=_dataset(train_rows, tokenizer, config.model),
            peft_config=_peft_config(user),
            callbacks=[c for c in (rollouts, callback) if c is not None],
            rollout_func=rollouts,
        )
    callback.trainer = trainer
    trainer.remove_callback(PrinterCallback)  # our events log and live view report progress
    try:
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    finally:
        reward.close()
        if rollouts is not None:
            rollouts.close()
    return callback._stop


def _server_rollouts(
    config: TrainConfig,
    settings: Settings,
    tokenizer: Any,
    hp: Resolved,
    options: GenerationOptions,
    events: EventLog,
) -> Any:
    """The rollout server's ``rollout_func`` for a LoRA job with a server configured, else None."""
    url = config.rollout_server or settings.rollout_base_url
    if not url:
        return None
    if not config.hyperparameters.lora:
        events.emit(
            f"Rollouts are sampled in the trainer, not at {url}: only LoRA policies can be loaded on "
            "a running server (set lora=true to use it)",
            level="warn",
        )
        return None
    from openrft.models import VLLMServer, schema_regex
    from openrft.training._rollouts import ServerRollouts

    out = Path(config.out_dir).resolve()
    prefix = config.rollout_prefix or f"openrft-{hashlib.sha1(str(out).encode()).hexdigest()[:10]}"
    schema = options.json_schema
    rollouts = ServerRollouts(
        VLLMServer(url, api_key=settings.rollout_api_key, timeout=settings.rollout_timeout),
        prefix=prefix,
        policy_dir=events.folder.policy_dir.resolve(),
        tokenizer=tokenizer,
        temperature=hp.temperature,
        top_p=1.0,
        max_tokens=hp.max_completion_length,
        seed=config.hyperparameters.seed,
        regex=schema_regex(schema) if schema is not None else None,
        keep=config.rollout_keep,
        main=events.writer,
    )
    events.emit(f"Rollouts and validations are sampled at {url} from LoRA versions {prefix}-v<step>")
    return rollouts


def run_training(
    config: TrainConfig,
    *,
    control: JobControl | None = None,
    on_event: OnEvent | None = None,
    settings: Settings | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> TrainResult:
    """Run (or resume) one RFT job in ``config.out_dir``; blocks until it ends.

    ``on_progress(stage, done, total)`` hears how far the preflight is (``run_preflight``'s).

    Raises ``InvalidRequestError`` for a bad grader, data, hyperparameter or an exploitable
    grader (preflight), and :class:`GraderFailure` when grader errors pass
    ``max_grader_error_rate``. Both are also written to the events log as errors.
    """
    settings = settings or Settings()
    control = control or JobControl()
    rank, world = _world()
    out = Path(config.out_dir)
    folder = JobFolder(out)
    events = EventLog(folder, on_event, writer=rank == 0)
    grader = validate_grader(config.grader)
    train_rows = _load_rows(Path(config.train_file), "train")
    valid_rows = _load_rows(Path(config.valid_file), "valid") if config.valid_file else []
    if not train_rows:
        raise InvalidRequestError("the training file has no rows", param="training_file")
    hp = resolve(
        config.hyperparameters,
        len(train_rows),
        config.model,
        reference_tokens=_reference_tokens(config, train_rows, settings),
        gpu=_on_gpu(),
    )
    _check_shapes(hp, world)
    options = _options(config, hp)
    resume_step, resume_from = folder.resume_point(clean=events.writer) or (0, None)
    events.rewind(resume_step)
    # The resolved plan travels with the first event, so a viewer can print it before any step.
    plan = {
        "hyperparameters": asdict(hp),
        "requested": config.hyperparameters.model_dump(),
        "prompts": len(train_rows),
    }
    if resume_from:
        events.emit(f"Resuming from step {resume_step} ({resume_from.name})", data={"plan": plan})
    else:
        events.emit(
            f"Training {config.model} on {len(train_rows)} prompts: {json.dumps(asdict(hp))}",
            data={"plan": plan},
        )
    if events.writer:
        folder.write_hyperparameters(asdict(hp))

    policy = _load_policy(config.model, settings)
    runtime = GraderRuntime(settings)
    try:
        if config.preflight and resume_from is None:
            _preflight(config, grader, train_rows, hp, policy, options, runtime, events, world, on_progress)
        paused, cancelled = _train(
            config,
            grader=grader,
            hp=hp,
            train_rows=train_rows,
            valid_rows=valid_rows,
            policy=policy,
            options=options,
            runtime=runtime,
            events=events,
            control=control,
            resume_from=resume_from,
            world=world,
            settings=settings,
        )
    except OpenRFTError as exc:
        events.emit(f"Job failed: {exc.message}", level="error")
        raise
    finally:
        runtime.close()
    status = "cancelled" if cancelled else "paused" if paused else "succeeded"
    exported = None
    if events.writer:  # paused or cancelled too: the best checkpoint so far is ready to evaluate
        exported = folder.export_best()
        if exported:
            events.emit(
                f"Best checkpoint: step {exported[0]} → {exported[1]}", data={"best_step": exported[0]}
            )
    events.emit(f"Job {status}")
    result = folder.result(status)
    result.hyperparameters = hp
    return result
