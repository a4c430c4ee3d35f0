"""Building an example task: rows from a data package, its grader, a README; written deterministically.

A task is a :class:`TaskSpec`: where its data comes from, how to make ``n`` distinct rows from a
seeded ``random.Random``, and its grader (OpenAI's JSON). :func:`generate_task` returns the rows
in memory (the demo uses this); :func:`build_task` writes ``train.jsonl``, ``valid.jsonl``,
``grader.json`` and ``README.md`` into a folder. The same name, sizes and seed give the same
bytes, so the committed ``examples/`` can be checked against a rebuild.
"""

from __future__ import annotations

import importlib.util
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openrft.errors import BackendUnavailable, InvalidRequestError

BASELINE_COMMAND = (
    "openrft eval --model smollm2-135m-instruct --data examples/{name}/valid.jsonl "
    "--grader examples/{name}/grader.json --runs 3 --out runs/{name}"
)
_RESPONSE_FORMAT_OPTION = " \\\n    --response-format examples/{name}/response_format.json"


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


def _spec(name: str) -> TaskSpec:
    from openrft.data.tasks import TASKS

    if name not in TASKS:
        raise InvalidRequestError(f"unknown task {name!r}: use one of {', '.join(TASKS)}", param="name")
    return TASKS[name]


def generate_task(
    name: str, *, n_train: int | None = None, n_valid: int | None = None, seed: int = 0
) -> TaskData:
    """The rows and grader of task ``name`` (defaults: the task's own sizes), reproducible by seed."""
    spec = _spec(name)
    n_train = spec.default_train if n_train is None else n_train
    n_valid = spec.default_valid if n_valid is None else n_valid
    if n_train < 1 or n_valid < 1:
        raise InvalidRequestError("n_train and n_valid must both be at least 1", param="n_train")
    spec.source.require()
    rows = spec.make_rows(n_train + n_valid, random.Random(seed))
    return TaskData(spec, rows[:n_train], rows[n_train:], spec.grader(), seed)


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _readme(data: TaskData) -> str:
    spec, source = data.spec, data.spec.source
    example = data.valid[0]
    shown = json.dumps({"messages": example["messages"]}, ensure_ascii=False, indent=2)
    answer = json.dumps(example.get("reference_answer"), ensure_ascii=False)
    fmt = _RESPONSE_FORMAT_OPTION.format(name=spec.name) if spec.response_format else ""
    return f"""# {spec.name}

{spec.summary}

Use case: **{spec.family}**.

## Data

From the `{source.package}` package, version {source.version} ({source.licence}): {source.origin}
`train.jsonl` holds {len(data.train)} rows and `valid.jsonl` {len(data.valid)}, drawn with seed
{data.seed}; no item is in both. Rebuild them (byte for byte) with

```bash
openrft data build-task {spec.name} --out examples/{spec.name} --n-train {len(data.train)} \\
    --n-valid {len(data.valid)} --seed {data.seed}
```

A validation row's prompt, whose `reference_answer` is {answer}:

```json
{shown}
```

{spec.details}

## Baseline

```bash
openrft data validate examples/{spec.name}/train.jsonl
{BASELINE_COMMAND.format(name=spec.name)}{fmt}
```
"""


def build_task(
    name: str,
    out_dir: str | Path,
    *,
    n_train: int | None = None,
    n_valid: int | None = None,
    seed: int = 0,
) -> TaskFiles:
    """Write task ``name`` into ``out_dir``: train.jsonl, valid.jsonl, grader.json and README.md."""
    data = generate_task(name, n_train=n_train, n_valid=n_valid, seed=seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {f: out / f for f in ("train.jsonl", "valid.jsonl", "grader.json", "README.md")}
    paths["train.jsonl"].write_text(_jsonl(data.train), encoding="utf-8")
    paths["valid.jsonl"].write_text(_jsonl(data.valid), encoding="utf-8")
    paths["grader.json"].write_text(
        json.dumps(data.grader, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    paths["README.md"].write_text(_readme(data), encoding="utf-8")
    response_format = None
    if data.spec.response_format:
        response_format = out / "response_format.json"
        response_format.write_text(
            json.dumps(data.spec.response_format, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return TaskFiles(
        name=name,
        out_dir=out,
        train=paths["train.jsonl"],
        valid=paths["valid.jsonl"],
        grader=paths["grader.json"],
        readme=paths["README.md"],
        n_train=len(data.train),
        n_valid=len(data.valid),
        response_format=response_format,
    )


def grader_source(module: str) -> str:
    """The text of a grader module shipped in this package (a real module, so it is linted and tested)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"grader module {module} is missing from the package")
    return Path(spec.origin).read_text(encoding="utf-8")
