"""Graders: every OpenAI grader type, in OpenAI's wire format.

>>> from openrft.graders import run_grader
>>> grader = {"type": "string_check", "input": "{{sample.output_text}}",
...           "reference": "{{item.answer}}", "operation": "ilike"}
>>> run_grader(grader, "It is PARIS.", {"answer": "paris"}).reward
1.0
"""

from openrft.graders._default import default_runtime
from openrft.graders._request import RunGraderRequest
from openrft.graders._results import (
    ERROR_FLAGS,
    Grade,
    GraderErrors,
    GraderMetadata,
    RunGraderResponse,
    TokenUsage,
)
from openrft.graders._runner import (
    grade_batch,
    grade_batch_async,
    run_grader,
    run_grader_async,
)
from openrft.graders._runtime import GraderRuntime
from openrft.graders._sample import make_sample
from openrft.graders._schema import (
    GRADER_TYPES,
    UNIT_RANGE,
    EvalItem,
    Grader,
    GraderModel,
    LabelModelGrader,
    MultiGrader,
    PythonGrader,
    SamplingParams,
    ScoreModelGrader,
    StringCheckGrader,
    TextSimilarityGrader,
    parse_grader,
)
from openrft.graders._template import TemplateVariableError, render
from openrft.graders._validate import validate_grader

__all__ = [
    "ERROR_FLAGS",
    "GRADER_TYPES",
    "UNIT_RANGE",
    "EvalItem",
    "Grade",
    "Grader",
    "GraderErrors",
    "GraderMetadata",
    "GraderModel",
    "GraderRuntime",
    "LabelModelGrader",
    "MultiGrader",
    "PythonGrader",
    "RunGraderRequest",
    "RunGraderResponse",
    "SamplingParams",
    "ScoreModelGrader",
    "StringCheckGrader",
    "TemplateVariableError",
    "TextSimilarityGrader",
    "TokenUsage",
    "default_runtime",
    "grade_batch",
    "grade_batch_async",
    "make_sample",
    "parse_grader",
    "render",
    "run_grader",
    "run_grader_async",
    "validate_grader",
]
