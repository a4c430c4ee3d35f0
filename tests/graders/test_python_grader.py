"""The python grader end to end: OpenAI's outcomes and flags, validation, grader-image packages."""

from __future__ import annotations

import pytest

from openrft.config import Settings
from openrft.errors import GraderValidationError
from openrft.graders import GraderRuntime, grade_batch_async, run_grader_async, validate_grader
from openrft.graders._python import check_python_source

pytestmark = [pytest.mark.sandbox, pytest.mark.needs("root", "bwrap")]

RAPIDFUZZ = """
from rapidfuzz import fuzz, utils

def grade(sample, item):
    return fuzz.token_set_ratio(sample["output_text"], item["reference_answer"],
                                processor=utils.default_process) / 100.0
"""


@pytest.fixture(scope="module")
def rt():
    with GraderRuntime(Settings(python_grader_timeout=2, python_grader_workers=2)) as runtime:
        yield runtime


def python(source: str) -> dict:
    return {"type": "python", "name": "py", "source": source}


async def grade(rt, source: str, output: str = "Paris", item: dict | None = None):
    return await run_grader_async(python(source), output, item or {"reference_answer": "Paris"}, runtime=rt)


async def test_reward_is_the_returned_float(rt):
    result = await grade(rt, RAPIDFUZZ, "paris!")
    assert result.reward == 1.0
    assert result.metadata.errors.raised() == []
    assert result.metadata.type == "python" and result.metadata.name == "py"


async def test_exception_is_a_runtime_error_with_the_traceback(rt):
    source = "def grade(sample, item):\n    x = 1\n    return x / 0\n"
    result = await grade(rt, source)
    errors = result.metadata.errors
    assert result.reward == 0.0
    assert errors.raised() == ["python_grader_runtime_error"]
    details = errors.python_grader_runtime_error_details or ""
    assert "ZeroDivisionError: division by zero" in details
    assert 'File "grader.py", line 3, in grade' in details and "return x / 0" in details
    assert "_worker.py" not in details and "<string>" not in details  # no worker frames


HUGE = "1" + "0" * 27 + "..." + "0" * 29


@pytest.mark.parametrize(
    ("expression", "shown"),
    [("'abc'", "'abc' (str)"), ("float('nan')", "nan (float)"), ("-float('inf')", "-inf (float)"),
     ("None", "None (NoneType)"), ("True", "True (bool)"), ("10**400", f"{HUGE} (int)")],
)  # fmt: skip
async def test_invalid_values_score_zero_with_a_runtime_error(rt, expression, shown):
    result = await grade(rt, f"def grade(sample, item):\n    return {expression}\n")
    errors = result.metadata.errors
    assert result.reward == 0.0 and errors.raised() == ["python_grader_runtime_error"]
    assert errors.python_grader_runtime_error_details == f"grade returned {shown}; expected a finite number"


async def test_numbers_that_are_not_floats_are_accepted(rt):
    source = "import numpy as np\nfrom fractions import Fraction\ndef grade(sample, item):\n"
    assert (await grade(rt, source + "    return 1\n")).reward == 1.0
    assert (await grade(rt, source + "    return np.float32(0.5)\n")).reward == 0.5
    assert (await grade(rt, source + "    return Fraction(1, 4)\n")).reward == 0.25


async def test_timeout_is_a_server_error(rt):
    result = await grade(rt, "import time\ndef grade(sample, item):\n    time.sleep(30)\n")
    errors = result.metadata.errors
    assert result.reward == 0.0 and errors.raised() == ["python_grader_server_error"]
    assert errors.python_grader_server_error_type == "timeout"


async def test_dead_worker_is_a_server_error(rt):
    result = await grade(rt, "import os\ndef grade(sample, item):\n    os._exit(1)\n")
    assert result.metadata.errors.python_grader_server_error_type == "worker_died"


async def test_stdout_is_captured(rt):
    result = await grade(
        rt, "def grade(sample, item):\n    print('looking at', item['reference_answer'])\n    return 1\n"
    )
    assert result.details["stdout"] == "looking at Paris\n"


async def test_grader_image_packages_import_and_work(rt):
    source = """
import numpy as np
from rapidfuzz import fuzz
from ast_grep_py import SgRoot
import scipy, sympy, pandas, sklearn, deepdiff, jsonschema, pydantic, yaml, nltk, sqlparse
from rouge_score import rouge_scorer

def grade(sample, item):
    root = SgRoot(sample["output_text"], "python").root()
    calls = root.find_all(pattern="print($A)")
    rouge = rouge_scorer.RougeScorer(["rougeL"]).score("a b c", "a b c")["rougeL"].fmeasure
    return float(np.mean([len(calls) / 2, fuzz.ratio("abc", "abc") / 100, rouge]))
"""
    result = await grade(rt, source, "print(1)\nprint(2)\n")
    assert result.metadata.errors.raised() == [] and result.reward == 1.0


async def test_module_level_classes_resolve_their_annotations(rt):
    source = """
from dataclasses import dataclass
from typing import Optional
from pydantic import BaseModel

class Answer(BaseModel):
    text: str
    note: Optional[str] = None

@dataclass
class Weight:
    value: float = 1.0

def grade(sample, item):
    return Weight().value * (Answer(text=sample["output_text"]).text == item["reference_answer"])
"""
    assert (await grade(rt, source)).reward == 1.0


async def test_batch_grading_goes_through_the_pool(rt):
    pairs = [(answer, {"reference_answer": "Paris"}) for answer in ("Paris", "paris", "Lyon", "") * 50]
    results = await grade_batch_async(python(RAPIDFUZZ), pairs, runtime=rt)
    assert [r.reward for r in results[:4]] == [1.0, 1.0, 0.0, 0.0]
    assert len(results) == 200 and all(r.metadata.errors.raised() == [] for r in results)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def grade(sample, item)\n    return 1\n", "source: syntax error at line 1"),
        (
            "def score(sample, item):\n    return 1\n",
            "source: the source defines no grade(sample, item)",
        ),
        ("def grade(sample):\n    return 1\n", "source: grade must take exactly two positional arguments"),
        ("def grade(a, b, c):\n    return 1\n", "source: grade must take exactly two positional arguments"),
        ("grade = 3\n", "source: grade must be a function, not int"),
        ("raise ValueError('nope')\n", "source: loading the source raised ValueError: nope"),
        ("x = 1\n" + "#" * (300 * 1024 - 6), "source: the source is 300 kB; the limit is 256 kB"),
    ],
)
def test_check_python_source_rejects_with_one_line(rt, source, message):
    with pytest.raises(GraderValidationError) as caught:
        check_python_source(source, rt)
    assert caught.value.param == "source"
    assert caught.value.message.startswith(message)
    assert "\n" not in caught.value.message


def test_check_python_source_accepts_a_good_grader(rt):
    check_python_source(RAPIDFUZZ, rt)
    check_python_source("def grade(sample, item, *extra):\n    return 1\n", rt)


def test_validate_grader_checks_python_sources_inside_multi(rt):
    multi = {
        "type": "multi",
        "graders": {"a": python("def grade(sample):\n    return 1\n")},
        "calculate_output": "a",
    }
    with pytest.raises(GraderValidationError) as caught:
        validate_grader(multi, runtime=rt)
    assert caught.value.param == "graders.a.source"
