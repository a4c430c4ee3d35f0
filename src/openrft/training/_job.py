"""Running a job folder: what ``openrft train`` calls, and what each launched process runs.

:func:`start_job` checks a :class:`JobSpec`, saves it as the folder's ``job.json`` and runs it,
in this process or under ``accelerate launch``. :func:`run_job_process` is one process of a
launched job (``python -m openrft.training run DIR``): it reads the job back from the folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from openrft.config import Settings
from openrft.errors import InvalidRequestError
from openrft.training._config import TrainResult
from openrft.training._control import JobControl
from openrft.training._events import OnEvent
from openrft.training._folder import JobFolder
from openrft.training._spec import JobSpec


def start_job(
    spec: JobSpec,
    folder: JobFolder,
    *,
    control: JobControl | None = None,
    on_event: OnEvent | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    num_processes: int = 1,
    accelerate_config: Path | None = None,
    settings: Settings | None = None,
) -> TrainResult:
    """Check ``spec``, save it in ``folder`` and run (or resume) the job; blocks until it ends.

    With ``num_processes`` above 1 or an ``accelerate_config`` file the job runs in that many
    processes under ``accelerate launch``; this process follows their events (``on_event``) and
    passes on ``control.pause()``. Otherwise it runs here, as :func:`run_training` does
    (``on_progress`` hears the preflight's progress).

    Raises :class:`InvalidRequestError` for a bad input, before anything is saved or loaded.
    """
    from openrft.training._launch import run_launched
    from openrft.training._runner import run_training

    config = spec.config(folder.path)
    if accelerate_config is not None and not accelerate_config.is_file():
        raise InvalidRequestError(f"--accelerate-config {accelerate_config}: no such file")
    folder.write_spec(spec)
    control = control or JobControl()
    if num_processes > 1 or accelerate_config is not None:
        status = run_launched(
            folder,
            num_processes=num_processes,
            config_file=accelerate_config,
            control=control,
            on_event=on_event,
        )
        return folder.result(status)
    return run_training(
        config, control=control, on_event=on_event, on_progress=on_progress, settings=settings
    )


def run_job_process(folder: JobFolder) -> TrainResult:
    """One process of a launched job: the job saved in ``folder``, paused when the launcher asks."""
    from openrft.training._launch import watch_pause_requests
    from openrft.training._runner import run_training

    config = folder.read_spec().config(folder.path)
    control = JobControl()
    watch_pause_requests(folder, control)
    return run_training(config, control=control)
