"""Evals: sample a model on a dataset several times, grade every answer, summarise.

>>> from openrft.evals import make_criteria, run_eval
>>> criteria = make_criteria([grader_json])
>>> result = await run_eval(backend, rows, criteria, n_runs=3, options=GenerationOptions(seed=0))
>>> result.summary()["models"][backend.name]["mean"]
"""

from openrft.evals._criteria import Criterion, default_threshold, make_criteria, make_criterion
from openrft.evals._engine import EvalResult, Row, prompt_messages, run_eval
from openrft.evals._metrics import compare, histogram, readiness, summarize
from openrft.evals._records import EvalRecord, ResultsFile, fingerprint

__all__ = [
    "Criterion",
    "EvalRecord",
    "EvalResult",
    "ResultsFile",
    "Row",
    "compare",
    "default_threshold",
    "fingerprint",
    "histogram",
    "make_criteria",
    "make_criterion",
    "prompt_messages",
    "readiness",
    "run_eval",
    "summarize",
]
