"""Example RFT tasks built from real data that installs offline from PyPI.

>>> from openrft.data.tasks import build_task
>>> files = build_task("icd10-coding", "examples/icd10-coding", seed=0)   # train/valid/grader/README

One task per use case of OpenAI's RFT guide: ``humaneval`` (instructions into working code),
``icd10-coding`` and ``triage-vitals`` (facts into a clean format), ``clinical-scores`` (complex
rules applied).
:func:`generate_task` returns the same rows in memory without writing anything.
"""

from openrft.data.tasks._build import TASKS, build_task, generate_task
from openrft.data.tasks._spec import DataSource, TaskData, TaskFiles, TaskSpec

__all__ = ["TASKS", "DataSource", "TaskData", "TaskFiles", "TaskSpec", "build_task", "generate_task"]
