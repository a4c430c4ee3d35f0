"""The python-grader sandbox: pools of pre-started, confined workers that run untrusted graders.

:class:`PythonGraderPool` (``_pool.py``, whose docstring is the threat model: what is covered
and what is not) serves one grader source of one project; every pool of a process shares one
:class:`SandboxBudget` (``_budget.py``) of live workers and memory. The rest is internal: a
worker's process and wire frames (``_process.py``), its slot in a pool (``_slot.py``), how it
is started and confined (``_spawn.py``), and the code that runs inside it (``_worker.py``, read
as text and run by the sandboxed interpreter). docs/sandbox.md describes it for operators.
"""

from openrft.graders.sandbox._budget import SandboxBudget, default_budget, make_budget
from openrft.graders.sandbox._pool import PythonGraderPool
from openrft.graders.sandbox._process import SERVER_ERRORS, SandboxResult, WorkerFailure, isolation_mode

__all__ = [
    "SERVER_ERRORS",
    "PythonGraderPool",
    "SandboxBudget",
    "SandboxResult",
    "WorkerFailure",
    "default_budget",
    "isolation_mode",
    "make_budget",
]
