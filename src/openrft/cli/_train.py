"""``openrft train``: one RFT job (GRPO on TRL), shown as it runs (:mod:`openrft.cli._job_view`).

The options become a :class:`~openrft.training.JobSpec`, which
:func:`openrft.training.start_job` saves as ``OUT/job.json`` and runs; ``--resume OUT`` reads
it back. Ctrl-C pauses (the step finishes and is checkpointed); a second Ctrl-C stops at once.
With ``--num-processes N`` or ``--accelerate-config FILE`` the job runs under ``accelerate
launch`` and this process only shows its progress (read from ``OUT/events.jsonl``).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from openrft.cli._console import err_console
from openrft.cli._io import read_json_file
from openrft.cli._job_view import JobView, report_job
from openrft.errors import InvalidRequestError

if TYPE_CHECKING:
    from openrft.training import JobControl, JobFolder, JobSpec


def _new_spec(
    folder: JobFolder | None,
    model: str,
    train: Path | None,
    valid: Path | None,
    grader: Path | None,
    sets: list[str],
    response_format: Path | None,
    skip_preflight: bool,
    allow_exploits: bool,
) -> JobSpec:
    from openrft.training import JobSpec, parse_overrides

    given = (("--model", model), ("--train", train), ("--grader", grader), ("--out", folder))
    missing = [name for name, value in given if not value]
    if missing:
        raise InvalidRequestError(f"missing {', '.join(missing)} (or use --resume DIR)")
    assert folder is not None and train is not None and grader is not None
    if folder.has_spec():
        where = folder.path
        raise InvalidRequestError(
            f"{where} already holds a job: continue it with --resume {where}, or pick another --out"
        )
    return JobSpec(
        model=model,
        train_file=train,
        valid_file=valid,
        grader=read_json_file(grader, "grader"),
        grader_file=grader,
        response_format=read_json_file(response_format, "response_format") if response_format else None,
        hyperparameters=parse_overrides(sets),
        preflight=not skip_preflight,
        allow_exploits=allow_exploits,
    )


def _resumed_spec(folder: JobFolder, skip_preflight: bool, allow_exploits: bool) -> JobSpec:
    """The saved job; ``--skip-preflight`` and ``--allow-exploits`` still apply to it."""
    spec = folder.read_spec()
    return spec.model_copy(
        update={
            "preflight": spec.preflight and not skip_preflight,
            "allow_exploits": spec.allow_exploits or allow_exploits,
        }
    )


@contextmanager
def _ctrl_c_pauses(control: JobControl) -> Iterator[None]:
    """First Ctrl-C: pause after the step (checkpointed); the second one interrupts."""

    def handler(signum: int, frame: Any) -> None:
        if control.paused:
            raise KeyboardInterrupt
        control.pause()
        err_console.print("[yellow]pausing after this step (Ctrl-C again to stop now)[/]")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def train_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Base model (see docs/models.md).")] = "",
    train: Annotated[Path | None, typer.Option("--train", help="Training RFT JSONL.")] = None,
    valid: Annotated[Path | None, typer.Option("--valid", help="Validation RFT JSONL.")] = None,
    grader: Annotated[Path | None, typer.Option("--grader", help="Grader JSON (the reward).")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Job folder: events, metrics, checkpoints.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Hyperparameter key=value (docs/training.md); repeatable."),
    ] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue the job in this folder.")] = None,
    response_format: Annotated[
        Path | None, typer.Option("--response-format", help="OpenAI response_format JSON (json_schema).")
    ] = None,
    skip_preflight: Annotated[
        bool, typer.Option("--skip-preflight", help="Start without sampling the base model first.")
    ] = False,
    allow_exploits: Annotated[
        bool, typer.Option("--allow-exploits", help="Train even if the preflight finds a paying exploit.")
    ] = False,
    num_processes: Annotated[
        int, typer.Option("--num-processes", min=1, help="Processes (GPUs) to train with, via accelerate.")
    ] = 1,
    accelerate_config: Annotated[
        Path | None, typer.Option("--accelerate-config", help="accelerate config file (DeepSpeed, FSDP).")
    ] = None,
    rollout_server: Annotated[
        str | None,
        typer.Option(
            "--rollout-server",
            help="vLLM-compatible server (http://host:8000/v1) that samples LoRA rollouts "
            "(env OPENRFT_ROLLOUT_BASE_URL; docs/vllm.md).",
        ),
    ] = None,
    worker: Annotated[bool, typer.Option("--worker", hidden=True)] = False,
) -> None:
    """Fine-tune a model with GRPO, the grader's score as the reward."""
    from openrft.training import JobControl, JobFolder, run_job_process, start_job

    given = resume if resume is not None else out
    folder = JobFolder(given) if given is not None else None
    if resume is not None:
        assert folder is not None
        spec = _resumed_spec(folder, skip_preflight, allow_exploits)
    else:
        spec = _new_spec(
            folder, model, train, valid, grader, set_ or [], response_format, skip_preflight, allow_exploits
        )
    assert folder is not None
    if rollout_server:
        spec = spec.model_copy(update={"rollout_server": rollout_server})
    if worker:  # how launched processes ran before ``python -m openrft.training run``
        run_job_process(folder)
        return
    control = JobControl()
    with _ctrl_c_pauses(control), JobView() as view:
        result = start_job(
            spec,
            folder,
            control=control,
            on_event=view.on_event,
            on_progress=view.on_progress,
            num_processes=num_processes,
            accelerate_config=accelerate_config,
        )
    report_job(result.status, folder, spec)
