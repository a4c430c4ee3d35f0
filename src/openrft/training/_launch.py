"""Scale-out: the ``accelerate launch`` command that runs a job in several processes.

Without a config file the processes start through torchrun (``--multi_gpu``): one per GPU,
or on a machine without one, CPU processes that talk over gloo (the trainer sets
``use_cpu``). With ``--accelerate-config FILE`` (a file written by ``accelerate config``:
DeepSpeed ZeRO, FSDP, several machines) the file decides, and ``num_processes`` overrides
its process count. Each process runs ``openrft train --resume DIR --worker``: the job is
read back from ``DIR/job.json``.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path


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
    return [*cmd, "--module", "openrft.cli", "train", "--resume", str(job_dir), "--worker"]
