"""``openrft train``: one RFT job (GRPO on TRL), shown as it runs (:mod:`openrft.cli._job_view`).

The job as given is saved to ``OUT/job.json``; ``--resume OUT`` reads it back. Ctrl-C
pauses (the step finishes and is checkpointed); a second Ctrl-C stops at once. With
``--num-processes N`` or ``--accelerate-config FILE`` the job runs under ``accelerate
launch`` and this process only shows its progress (read from ``OUT/events.jsonl``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from openrft.cli._console import err_console
from openrft.cli._io import read_json_file
from openrft.cli._job_view import JobView, report_job
from openrft.errors import InvalidRequestError, OpenRFTError


def _job_spec(
    model: str,
    train: Path | None,
    valid: Path | None,
    grader: Path | None,
    out: Path | None,
    sets: list[str],
    response_format: Path | None,
    skip_preflight: bool,
    allow_exploits: bool,
) -> dict[str, Any]:
    from openrft.training import parse_overrides

    given = (("--model", model), ("--train", train), ("--grader", grader), ("--out", out))
    missing = [name for name, value in given if not value]
    if missing:
        raise InvalidRequestError(f"missing {', '.join(missing)} (or use --resume DIR)")
    assert out is not None
    if (out / "job.json").exists():
        raise InvalidRequestError(
            f"{out} already holds a job: continue it with --resume {out}, or pick another --out"
        )
    return {
        "model": model,
        "train_file": str(train),
        "valid_file": str(valid) if valid else None,
        "grader": read_json_file(grader, "grader"),  # type: ignore[arg-type]
        "grader_file": str(grader),
        "response_format": read_json_file(response_format, "response_format") if response_format else None,
        "hyperparameters": parse_overrides(sets),
        "preflight": not skip_preflight,
        "allow_exploits": allow_exploits,
    }


def _config(spec: dict[str, Any], out: Path) -> Any:
    """The checked :class:`TrainConfig`: every input problem is one error before anything loads."""
    from openrft.data import load_rft_jsonl
    from openrft.graders import validate_grader
    from openrft.training import TrainConfig, parse_hyperparameters

    hp = parse_hyperparameters(spec["hyperparameters"])
    validate_grader(spec["grader"])
    load_rft_jsonl(Path(spec["train_file"]), split="train")
    if spec["valid_file"]:
        load_rft_jsonl(Path(spec["valid_file"]), split="valid")
    return TrainConfig(
        model=spec["model"],
        train_file=Path(spec["train_file"]),
        valid_file=Path(spec["valid_file"]) if spec["valid_file"] else None,
        grader=spec["grader"],
        out_dir=out,
        hyperparameters=hp,
        response_format=spec.get("response_format"),
        preflight=spec.get("preflight", True),
        allow_exploits=spec.get("allow_exploits", False),
        rollout_server=spec.get("rollout_server"),
    )


@contextmanager
def _ctrl_c_pauses(control: Any) -> Iterator[None]:
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


def _follow(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Complete lines appended to ``path`` since ``offset``, and the new offset."""
    if not path.exists():
        return [], offset
    with path.open("rb") as handle:
        handle.seek(offset)
        chunk = handle.read()
    end = chunk.rfind(b"\n") + 1
    lines = chunk[:end].decode("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()], offset + end


PAUSE_FILE = ".pause"
"""Created in the job folder to ask the processes of a launched job to pause."""


def _watch_pause_file(out: Path, control: Any) -> None:
    """A worker pauses when the launching process asks (it cannot signal torchrun's children)."""
    import threading

    def watch() -> None:
        while not control.paused:
            if (out / PAUSE_FILE).exists():
                control.pause()
            time.sleep(0.5)

    threading.Thread(target=watch, name="openrft-pause-watch", daemon=True).start()


def _launch(out: Path, num_processes: int, accelerate_config: Path | None) -> str:
    """Run the job under ``accelerate launch``, show its events as they come; returns its status."""
    import os

    from openrft.training import accelerate_command

    events_path = out / "events.jsonl"
    offset = events_path.stat().st_size if events_path.exists() else 0
    (out / PAUSE_FILE).unlink(missing_ok=True)
    command = accelerate_command(out, num_processes=num_processes, config_file=accelerate_config)
    log_path = out / "launch.log"
    errors: list[str] = []
    status = "ended"
    with log_path.open("ab") as log, JobView() as view:
        show = view.on_event
        # Its own session: Ctrl-C reaches only this process, which asks the workers to pause.
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while True:
                done = process.poll() is not None
                new, offset = _follow(events_path, offset)
                for event in new:
                    show(event)
                    if event["level"] == "error":
                        errors.append(event["message"])
                    if event["message"].startswith("Job "):
                        status = event["message"].removeprefix("Job ")
                if done:
                    break
                try:
                    time.sleep(0.5)
                except KeyboardInterrupt:
                    if (out / PAUSE_FILE).exists():
                        raise
                    (out / PAUSE_FILE).touch()
                    err_console.print("[yellow]pausing after this step (Ctrl-C again to stop now)[/]")
        except KeyboardInterrupt:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()
            raise
        finally:
            (out / PAUSE_FILE).unlink(missing_ok=True)
    if process.returncode:
        raise OpenRFTError(
            errors[-1]
            if errors
            else f"the training processes failed (exit {process.returncode}); see {log_path}"
        )
    return status


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
    from openrft.training import JobControl, run_training

    if resume is not None:
        saved = resume / "job.json"
        if not saved.is_file():
            raise InvalidRequestError(f"{resume} holds no job (job.json is missing)", param="resume")
        spec = json.loads(saved.read_text())
        out = resume
        if skip_preflight or allow_exploits:
            spec.update(preflight=spec.get("preflight", True) and not skip_preflight)
            spec.update(allow_exploits=spec.get("allow_exploits", False) or allow_exploits)
    else:
        spec = _job_spec(
            model, train, valid, grader, out, set_ or [], response_format, skip_preflight, allow_exploits
        )
    assert out is not None
    if rollout_server:
        spec["rollout_server"] = rollout_server
    config = _config(spec, out)
    if not worker:
        from openrft.training._events import write_atomic

        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "job.json", json.dumps(spec, indent=2) + "\n")
    if accelerate_config is not None and not accelerate_config.is_file():
        raise InvalidRequestError(f"--accelerate-config {accelerate_config}: no such file")
    if not worker and (num_processes > 1 or accelerate_config is not None):
        status = _launch(out, num_processes, accelerate_config)
        report_job(status, out, spec)
        return
    control = JobControl()
    if worker:
        _watch_pause_file(out, control)
        run_training(config, control=control)
        return
    with _ctrl_c_pauses(control), JobView() as view:
        result = run_training(config, control=control, on_event=view.on_event, on_progress=view.on_progress)
    report_job(result.status, out, spec)
