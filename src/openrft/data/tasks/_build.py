"""Building an example task: rows from a data package, its grader, a README; written deterministically.

A task is a :class:`TaskSpec`: where its data comes from, how to make ``n`` distinct rows from a
seeded ``random.Random``, and its grader (OpenAI's JSON). :func:`generate_task` returns the rows
in memory (the demo uses this); :func:`build_task` writes ``train.jsonl``, ``valid.jsonl``,
``grader.json`` and ``README.md`` into a folder. The same name, sizes and seed give the same
bytes, so the committed ``examples/`` can be checked against a rebuild.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from openrft.data.tasks import _clinical_scores, _humaneval, _icd10, _triage_vitals
from openrft.data.tasks._spec import TaskData, TaskFiles, TaskSpec
from openrft.errors import InvalidRequestError

BASELINE_COMMAND = (
    "openrft eval --model smollm2-135m-instruct --data examples/{name}/valid.jsonl "
    "--grader examples/{name}/grader.json --runs 3 --out runs/{name}"
)
_RESPONSE_FORMAT_OPTION = " \\\n    --response-format examples/{name}/response_format.json"


TASKS: dict[str, TaskSpec] = {
    t.name: t for t in (_humaneval.TASK, _icd10.TASK, _triage_vitals.TASK, _clinical_scores.TASK)
}
"""Every example task by name."""


def _spec(name: str) -> TaskSpec:
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
