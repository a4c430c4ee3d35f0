"""Scale-out: a job run in several processes through ``accelerate launch``.

Without a config file the processes start through torchrun (``--multi_gpu``): one per GPU,
or on a machine without one, CPU processes that talk over gloo (the trainer sets
``use_cpu``). With an accelerate config file (written by ``accelerate config``: DeepSpeed
ZeRO, FSDP, several machines) the file decides, and ``num_processes`` overrides its process
count. Each process runs ``python -m openrft.training run DIR``, which reads the job back from
``DIR/job.json``; the launching process follows ``events.jsonl`` and asks the processes to
pause through a file in the folder (it cannot signal torchrun's children).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from openrft.errors import OpenRFTError
from openrft.training._control import JobControl
from openrft.training._events import OnEvent
from openrft.training._folder import JobFolder

POLL_SECONDS = 0.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def accelerate_command(
    job_dir: Path, *, num_processes: int, config_file: Path | None = None, port: int | None = None
) -> list[str]:
    """The command line that runs the job in ``job_dir`` with ``num_processes`` processes."""
    import torch

    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if config_file is not None:
        cmd += ["--config_file", str(config_file)]
    else:
        cmd += [
            "--multi_gpu",
            "--num_machines",
            "1",
            "--mixed_precision",
            "bf16" if torch.cuda.is_available() else "no",
            "--dynamo_backend",
            "no",
        ]
    cmd += ["--num_processes", str(num_processes), "--main_process_port", str(port or free_port())]
    return [*cmd, "--module", "openrft.training", "run", str(job_dir)]


def run_launched(
    folder: JobFolder,
    *,
    num_processes: int,
    config_file: Path | None,
    control: JobControl,
    on_event: OnEvent | None = None,
) -> str:
    """Run the job in ``folder`` under ``accelerate launch``, hand its events to ``on_event`` as
    they come, and return how it ended (``succeeded``, ``paused``, ``cancelled``).

    ``control.pause()`` asks the processes to pause after their step. A ``KeyboardInterrupt``
    (a second Ctrl-C) stops them at once. The processes' output goes to ``launch.log``.
    """
    offset = folder.events_size()
    folder.clear_pause()
    command = accelerate_command(folder.path, num_processes=num_processes, config_file=config_file)
    errors: list[str] = []
    status = "ended"
    with folder.launch_log_path.open("ab") as log:
        # Its own session: Ctrl-C reaches only this process, which asks the workers to pause.
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while True:
                done = process.poll() is not None
                new, offset = folder.events_from(offset)
                for event in new:
                    if on_event is not None:
                        on_event(event)
                    if event["level"] == "error":
                        errors.append(event["message"])
                    if event["message"].startswith("Job "):
                        status = event["message"].removeprefix("Job ")
                if done:
                    break
                if control.paused and not folder.pause_requested():
                    folder.request_pause()
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()
            raise
        finally:
            folder.clear_pause()
    if process.returncode:
        raise OpenRFTError(
            errors[-1]
            if errors
            else f"the training processes failed (exit {process.returncode}); see {folder.launch_log_path}"
        )
    return status


def watch_pause_requests(folder: JobFolder, control: JobControl) -> None:
    """In a launched process: pause when the launching process asks (a thread polls the folder)."""
    import threading

    def watch() -> None:
        while not control.paused:
            if folder.pause_requested():
                control.pause()
            time.sleep(POLL_SECONDS)

    threading.Thread(target=watch, name="openrft-pause-watch", daemon=True).start()
