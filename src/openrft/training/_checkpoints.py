"""Checkpoints on disk: written whole or not at all, scored, pruned, and the best one exported.

TRL (transformers' Trainer) writes ``checkpoint-N`` in place, so a kill during the save
leaves a torn folder that looks like a checkpoint. Here each one is written into
``.staging-N/`` first, every file is fsynced, and the folder is renamed into place (then the
parent directory is fsynced): a ``checkpoint-N`` folder is always complete. Leftover staging
folders from a kill are removed when the job starts again.

``scores.json`` maps each step to its train and valid reward. The three best checkpoints by
``valid_reward_mean`` are kept, plus the latest one (the resume point).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any

from openrft.data import write_atomic

KEEP_BEST = 3
PREFIX = "checkpoint-"
EXPORT_INFO = "openrft-checkpoint.json"
"""Written into the exported ``best/``: which checkpoint it is and its scores."""
STAGING = ".staging-"
TRAINER_STATE_FILES = (
    "optimizer.pt",
    "scheduler.pt",
    "rng_state.pth",
    "rng_state_*.pth",
    "trainer_state.json",
    "training_args.bin",
    "README.md",
)
"""What a checkpoint holds only for resuming; the exported model leaves them out."""


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file under ``root`` to disk, then the folders themselves."""
    for folder, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                os.fsync(handle.fileno())
        fsync_dir(Path(folder))


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0:
        return True
    if ctypes.get_errno() in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), f"exchanging {first} and {second}: {os.strerror(ctypes.get_errno())}")


def publish(source: Path, target: Path) -> None:
    """Move the complete folder ``source`` to ``target`` in one rename (replacing ``target``).

    A ``target`` that exists is swapped with ``source`` in one step, so a kill at any moment
    leaves ``target`` whole (old or new); the old folder is then at ``source``, a staging name,
    and is removed (or swept with the staging folders). Where the swap is unsupported the old
    folder is moved aside first, which leaves a moment with no ``target``.
    """
    fsync_tree(source)
    if target.exists() and _exchange(source, target):
        fsync_dir(target.parent)
        fsync_dir(source.parent)
        shutil.rmtree(source, ignore_errors=True)
        return
    old = target.with_name(f"{STAGING}old-{target.name}")
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(source, target)
    fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def step_of(path: Path) -> int:
    return int(path.name.removeprefix(PREFIX))


def checkpoints(folder: Path) -> dict[int, Path]:
    """The complete checkpoints in ``folder``, by step."""
    if not folder.is_dir():
        return {}
    return {
        step_of(p): p
        for p in folder.iterdir()
        if p.is_dir() and p.name.startswith(PREFIX) and p.name.removeprefix(PREFIX).isdigit()
    }


def clean_staging(folder: Path) -> None:
    """Remove half-written checkpoints left by a killed job."""
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(STAGING):
                shutil.rmtree(p, ignore_errors=True)


def read_scores(folder: Path) -> dict[int, dict[str, Any]]:
    path = folder / "scores.json"
    if not path.exists():
        return {}
    return {int(k): v for k, v in json.loads(path.read_text()).items()}


def record_score(folder: Path, step: int, *, valid: float | None, train: float, paused: bool = False) -> None:
    """The scores of the checkpoint at ``step``; ``paused``: taken at a pause, so kept for good."""
    scores = read_scores(folder)
    scores[step] = {"valid_reward_mean": valid, "train_reward_mean": train}
    if paused:
        scores[step]["paused"] = True
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "scores.json", json.dumps({str(k): v for k, v in sorted(scores.items())}, indent=1))


def _ranked(scores: dict[int, dict[str, Any]], present: set[int]) -> list[int]:
    rated = [s for s in present if (scores.get(s) or {}).get("valid_reward_mean") is not None]
    return sorted(rated, key=lambda s: (-scores[s]["valid_reward_mean"], -s))


def prune(folder: Path, *, latest: int) -> None:
    """Keep the best ``KEEP_BEST`` checkpoints by valid reward, the latest, and those of pauses.

    A checkpoint taken at a pause was listed (and usable as a model) while the job was paused,
    so it stays usable after the job resumes and finishes, as OpenAI keeps it.
    """
    present = checkpoints(folder)
    scores = read_scores(folder)
    paused = {step for step in present if (scores.get(step) or {}).get("paused")}
    keep = set(_ranked(scores, set(present))[:KEEP_BEST]) | {latest} | paused
    for step, path in present.items():
        if step not in keep:
            shutil.rmtree(path, ignore_errors=True)


def best(folder: Path) -> tuple[int, Path] | None:
    """The kept checkpoint with the highest valid reward (the later one on a tie; else the latest)."""
    present = checkpoints(folder)
    if not present:
        return None
    ranked = _ranked(read_scores(folder), set(present))
    step = ranked[0] if ranked else max(present)
    return step, present[step]


def export_best(folder: Path, out: Path) -> tuple[int, Path] | None:
    """Copy the best checkpoint's model files to ``out/best`` (atomically); returns its step and path."""
    chosen = best(folder)
    if chosen is None:
        return None
    step, source = chosen
    target = out / "best"
    tmp = out / f"{STAGING}best"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp, ignore=shutil.ignore_patterns(*TRAINER_STATE_FILES))
    scores = read_scores(folder).get(step) or {}
    (tmp / EXPORT_INFO).write_text(
        json.dumps({"step": step, "source": source.name, **scores}, indent=1) + "\n"
    )
    publish(tmp, target)
    return step, target
