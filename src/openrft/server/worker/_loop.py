"""The worker loop: claim queued work, run it in a subprocess, hold it with heartbeats.

Each job or eval run runs in its own process (``python -m openrft.server.worker._executor``), so a
crash or a ``kill -9`` of the worker loses nothing and frees the model's (GPU) memory: the
child dies with its parent (``PR_SET_PDEATHSIG``), the job's lease expires, and the next
worker to look takes it back and resumes from the last checkpoint. Between heartbeats the
worker reads the job's status: ``cancelled`` stops the child, ``pause`` asks it (SIGUSR1) to
checkpoint and stop, and a lost lease (another worker took the job) kills it at once.
A graceful stop (SIGTERM, Ctrl-C) stops the child and puts the job back in the queue.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading

from openrft.config import Settings
from openrft.server._shared import ServerSettings, job_event
from openrft.server.worker._process import describe_exit, executor_threads, spawn_executor, stop_child
from openrft.store import EvalRunRow, JobRow, JobStatus, Store, WorkQueue, new_id

log = logging.getLogger("openrft.worker")


class Worker:
    """Runs queued fine-tuning jobs and eval runs from ``store``, one at a time.

    Args:
        settings: lease, heartbeat and poll intervals; data dir and database for the child.
        store: the store to claim from (default: opened from ``settings``).
        core: library settings the executors run with (default: from ``OPENRFT_*`` variables).
        name: this worker's id in the queue (default: host, pid and a random tag).
        threads: CPU threads for each job or run it starts (default: torch's, one per core).
    """

    def __init__(
        self,
        settings: ServerSettings,
        store: Store | None = None,
        *,
        core: Settings | None = None,
        name: str | None = None,
        threads: int | None = None,
    ):
        self.settings = settings
        self.threads = threads
        self.core = core or Settings()
        self.store = store or settings.open_store()
        # The executors open the store this worker claims from.
        self._child_settings = settings.model_copy(update={"data_dir": self.store.data_dir})
        self.id = name or f"{socket.gethostname()}:{os.getpid()}:{new_id('', 6)}"

    # --- the loop ---
    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set."""
        log.info("worker %s started", self.id)
        while not stop.is_set():
            try:
                self.reap()
                if not self.run_next(stop):
                    stop.wait(self.settings.poll_seconds)
            except Exception:  # a database hiccup must not end the worker
                log.exception("worker %s: error in the loop; retrying", self.id)
                stop.wait(self.settings.poll_seconds)
        log.info("worker %s stopped", self.id)

    def reap(self) -> None:
        """Take work back from workers that stopped heartbeating."""
        for reaped in self.store.jobs.reap():
            if reaped.status == JobStatus.QUEUED:
                message = (
                    f"Worker {reaped.worker_id} stopped responding; "
                    "the job is queued to resume from its last checkpoint"
                )
            else:
                message = f"Worker {reaped.worker_id} stopped responding"
            self.store.add_job_events(reaped.id, [job_event(message, level="warn")])
        self.store.runs.reap()

    def run_next(self, stop: threading.Event) -> bool:
        """Claim and run one job (else one eval run); False when nothing was queued."""
        lease = self.settings.lease_seconds
        job_id = self.store.jobs.claim(self.id, lease)
        if job_id is not None:
            self._execute("job", job_id, self.store.jobs, stop)
            return True
        run_id = self.store.runs.claim(self.id, lease)
        if run_id is not None:
            self._execute("run", run_id, self.store.runs, stop)
            return True
        return False

    # --- one piece of work ---
    def _execute(self, kind: str, ident: str, queue: WorkQueue, stop: threading.Event) -> None:
        folder = self.store.job_dir(ident) if kind == "job" else self.store.run_dir(ident)
        log_path = folder / "executor.log"
        proc = spawn_executor(kind, ident, self.id, self._child_settings, self.core, log_path, self.threads)
        log.info("worker %s: %s %s started (pid %d)", self.id, kind, ident, proc.pid)
        paused = False
        while True:
            try:
                proc.wait(timeout=self.settings.heartbeat_seconds)
                break
            except subprocess.TimeoutExpired:
                pass
            if stop.is_set():
                stop_child(proc)
                requeued = queue.release(
                    ident, self.id, expected={queue.running}, status=queue.statuses.queued
                )
                if requeued and kind == "job":
                    self.store.add_job_events(
                        ident, [job_event("Worker stopping; the job is queued to resume")]
                    )
                queue.release(ident, self.id)
                return
            beat = queue.heartbeat(ident, self.id, self.settings.lease_seconds)
            if beat is None:  # the lease was lost (or the row deleted): someone else owns it now
                log.warning("worker %s: lost %s %s; stopping it", self.id, kind, ident)
                stop_child(proc, grace=0.0)
                return
            status, control = beat
            if status in queue.statuses.stopped:
                stop_child(proc)
                break
            if control == "pause" and not paused:
                paused = True
                proc.send_signal(signal.SIGUSR1)
        self._finish(kind, ident, queue, proc.returncode if proc.returncode is not None else proc.wait())

    def _finish(self, kind: str, ident: str, queue: WorkQueue, code: int) -> None:
        table: type[JobRow | EvalRunRow] = JobRow if kind == "job" else EvalRunRow
        row = self.store.find(table, ident)
        if row is None:
            return
        if row.status == queue.running:  # the child died without recording an outcome: a crash
            retry = row.attempts < queue.max_attempts
            folder = self.store.job_dir(ident) if kind == "job" else self.store.run_dir(ident)
            where = f"{describe_exit(code)}; log: {folder / 'executor.log'}"
            error = (
                None
                if retry
                else {"code": "executor_crashed", "message": f"the process running it ended with {where}"}
            )
            queue.release(
                ident,
                self.id,
                expected={queue.running},
                status=queue.statuses.queued if retry else queue.statuses.failed,
                error=error,
            )
            if kind == "job":
                message = f"The job's process ended with {describe_exit(code)}; " + (
                    "queued to resume from its last checkpoint" if retry else "giving up"
                )
                self.store.add_job_events(ident, [job_event(message, level="warn" if retry else "error")])
        else:
            # A pause request stays on a job that is running again (claimed by another worker).
            control = {"control": None} if row.status != JobStatus.RUNNING else {}
            queue.release(ident, self.id, **control)
        log.info("worker %s: %s %s ended (%s)", self.id, kind, ident, describe_exit(code))


def start_worker_threads(
    settings: ServerSettings, count: int, store: Store | None = None, core: Settings | None = None
) -> tuple[threading.Event, list[threading.Thread]]:
    """``count`` workers in threads of this process (``openrft serve``); set the event to stop them.
    With more than one, each job or run gets its share of the cores (:func:`executor_threads`)."""
    stop = threading.Event()
    threads = []
    core = core or Settings()
    share = executor_threads(count)
    for index in range(count):
        worker = Worker(settings, store, core=core, threads=share)
        thread = threading.Thread(
            target=worker.run, args=(stop,), name=f"openrft-worker-{index}", daemon=True
        )
        thread.start()
        threads.append(thread)
    return stop, threads
