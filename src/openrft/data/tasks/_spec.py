"""What an example task is: where its data comes from, how its rows are made, its grader.

The task modules (``_humaneval.py``, ``_icd10.py``…) each define one :class:`TaskSpec`;
``_build.py`` lists them and writes them out.
"""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openrft.errors import BackendUnavailable


@dataclass(frozen=True)
class DataSource:
    """The registry package a task's data comes from."""

    package: str
    version: str
    module: str
    """Its import name (located with ``importlib.util.find_spec``)."""
    licence: str
    origin: str
    """What the data is, in a sentence."""

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    def require(self) -> None:
        """Raise :class:`BackendUnavailable` with the install command when the package is missing."""
        if importlib.util.find_spec(self.module) is None:
            raise BackendUnavailable(
                f"this task needs the {self.package} package: pip install {self.requirement}",
                code="data_package_not_installed",
            )


@dataclass(frozen=True)
class TaskSpec:
    """One example task."""

    name: str
    family: str
    """Which RFT use case of OpenAI's guide it stands for."""
    summary: str
    source: DataSource
    make_rows: Callable[[int, random.Random], list[dict[str, Any]]]
    """``n`` distinct rows (``messages`` + item fields) drawn with the given generator."""
    grader: Callable[[], dict[str, Any]]
    default_train: int
    default_valid: int
    details: str
    """README paragraphs: the prompt, the grader's scoring, the measured baseline."""
    response_format: dict[str, Any] | None = None
    """OpenAI's ``response_format`` the task is sampled under (written as ``response_format.json``)."""


@dataclass(frozen=True)
class TaskData:
    """A task in memory: what :func:`build_task` writes."""

    spec: TaskSpec
    train: list[dict[str, Any]]
    valid: list[dict[str, Any]]
    grader: dict[str, Any]
    seed: int


@dataclass(frozen=True)
class TaskFiles:
    """The files :func:`build_task` wrote."""

    name: str
    out_dir: Path
    train: Path
    valid: Path
    grader: Path
    readme: Path
    n_train: int
    n_valid: int
    response_format: Path | None = None


def grader_source(module: str) -> str:
    """The text of a grader module shipped in this package (a real module, so it is linted and tested)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"grader module {module} is missing from the package")
    return Path(spec.origin).read_text(encoding="utf-8")
