"""Evals: sample a model on a dataset several times, grade every answer, summarise.

>>> from openrft.evals import Criterion, run_eval
>>> criteria = [Criterion("exact", grader_json), Criterion("judge", judge_json, pass_threshold=7)]
>>> result = await run_eval(backend, rows, criteria, n_runs=3, options=GenerationOptions(seed=0))
>>> result.summary()["models"][backend.name]["mean"]

``evaluate(models, rows, criteria, data=..., out=...)`` runs several models into one eval folder
(:class:`EvalFolder`: config, results, summary, report), reusing earlier answers where the
fingerprint matches, and compares them with the first (``paired_difference``: is it real?).
OpenAI Evals runs (data sources, templating, result fields) are in ``_openai_runs``:
``source_rows``, ``prompt_for``, ``sample_and_grade``, ``run_outcome``.
``render_report(summary)`` turns a summary into a self-contained HTML page; ``check_judge``
tells whether a grader is stable and ranks labelled answers in order. See docs/evals.md.
"""

from openrft.evals._compare import TIE_TOLERANCE, compare
from openrft.evals._criteria import (
    Criterion,
    combined_range,
    default_threshold,
    make_criteria,
    make_criterion,
    score_range,
)
from openrft.evals._engine import EvalResult, Row, prompt_messages, run_eval
from openrft.evals._evaluate import evaluate
from openrft.evals._folder import EvalFolder
from openrft.evals._judge_check import JudgeCase, check_judge, parse_case
from openrft.evals._metrics import histogram, summarize
from openrft.evals._openai_runs import (
    DATA_SOURCES,
    GradedItem,
    OutputItemOutcome,
    RunOutcome,
    criteria_of,
    data_source_config,
    grade_given_samples,
    graded_answer,
    prompt_for,
    run_outcome,
    sample_and_grade,
    sampling_options,
    source_rows,
)
from openrft.evals._readiness import readiness
from openrft.evals._records import EvalRecord, ResultsFile, fingerprint
from openrft.evals._report import render_report
from openrft.evals._significance import describe_difference, paired_difference

__all__ = [
    "DATA_SOURCES",
    "TIE_TOLERANCE",
    "Criterion",
    "EvalFolder",
    "EvalRecord",
    "EvalResult",
    "GradedItem",
    "JudgeCase",
    "OutputItemOutcome",
    "ResultsFile",
    "Row",
    "RunOutcome",
    "check_judge",
    "combined_range",
    "compare",
    "criteria_of",
    "data_source_config",
    "default_threshold",
    "describe_difference",
    "evaluate",
    "fingerprint",
    "grade_given_samples",
    "graded_answer",
    "histogram",
    "make_criteria",
    "make_criterion",
    "paired_difference",
    "parse_case",
    "prompt_for",
    "prompt_messages",
    "readiness",
    "render_report",
    "run_eval",
    "run_outcome",
    "sample_and_grade",
    "sampling_options",
    "score_range",
    "source_rows",
    "summarize",
]
