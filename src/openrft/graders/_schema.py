"""Grader definitions in OpenAI's wire format (reference §2), as pydantic models.

Class and field names follow the OpenAI SDK (``StringCheckGrader``, ``evaluation_metric``…).
Each grader type also says what evals and training need to know about it, so that a new type
is added here and in its grading module only: its score range, its pass rule, the ``type`` of
its entries in an eval output item's ``results``, and its sub-graders, judge labels and
reference template (see :class:`GraderModel`).
Unknown fields (``pass_threshold``, ``image_tag``…) are kept and echoed back, as OpenAI does.
What real clients send is accepted (reference §8): ``multi.graders`` as a map, a list or a
single grader; ``ne`` or ``neq``; a missing ``name``. Real mistakes raise
:class:`~openrft.errors.GraderValidationError` naming the field path and the allowed values.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from openrft.errors import GraderValidationError

MAX_PYTHON_SOURCE_BYTES = 256 * 1024

STRING_CHECK_OPERATIONS = ("eq", "ne", "like", "ilike")
TEXT_SIMILARITY_METRICS = (
    "fuzzy_match", "bleu", "gleu", "meteor", "cosine",
    "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
)  # fmt: skip
ROLES = ("user", "assistant", "system", "developer")
UNIT_RANGE = (0.0, 1.0)
"""OpenAI's nominal score range."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON OpenAI would echo back: what was sent, with defaults filled in."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class GraderModel(_Wire):
    """What every grader type tells evals and training about itself.

    OpenAI's pass rules (reference §6.6): string_check passes on 1; label_model passes when the
    label is one of ``passing_labels`` (its reward is then 1); text_similarity, python and
    score_model compare the score with ``pass_threshold`` (``>=``). OpenAI does not state the
    default threshold (§6.6 marks it unconfirmed), so without one the middle of the grader's
    score range applies: 0.5 for [0, 1].
    """

    type: str
    name: str
    result_type: ClassVar[str]
    """The ``type`` of this grader's entries in an eval output item's ``results``."""

    def score_range(self) -> tuple[float, float] | None:
        """The scores this grader can give, where its type fixes them (python and multi: None)."""
        return UNIT_RANGE

    def threshold(self) -> float:
        """The score at or above which a sample passes: the JSON's own ``pass_threshold``, else
        the type's rule (see the class docstring)."""
        explicit = (self.model_extra or {}).get("pass_threshold")
        if isinstance(explicit, int | float) and not isinstance(explicit, bool):
            return float(explicit)
        return self._default_threshold()

    def _default_threshold(self) -> float:
        low, high = self.score_range() or UNIT_RANGE
        return (low + high) / 2

    def sub_graders(self) -> dict[str, SubGrader]:
        """The graders this one combines, by key (a multi grader's; empty for the others)."""
        return {}

    def answer_labels(self) -> set[str]:
        """The labels a judge answers with (a label_model's, and those of a multi's sub-graders)."""
        return {label for sub in self.sub_graders().values() for label in sub.answer_labels()}

    def reference_template(self) -> str | None:
        """The template of the correct answer, when the grader compares with one."""
        subs = (sub.reference_template() for sub in self.sub_graders().values())
        return next((t for t in subs if t is not None), None)

    def describe(self) -> str:
        """One line naming the grader and its type."""
        return f"{self.type} grader '{self.name}'"


class StringCheckGrader(GraderModel):
    """Compares ``input`` with ``reference``: eq, ne, like (contains), ilike (contains, any case)."""

    result_type: ClassVar[str] = "string-check-grader"
    type: Literal["string_check"] = "string_check"
    name: str = "string_check"
    input: str
    """Templated text to check, usually ``{{sample.output_text}}``."""
    reference: str
    """Templated text to compare against, usually ``{{item.reference_answer}}``."""
    operation: Literal["eq", "ne", "neq", "like", "ilike"]
    """``neq`` is the guides' spelling of ``ne``; both are accepted and echoed as sent."""

    def _default_threshold(self) -> float:
        return 1.0

    def reference_template(self) -> str | None:
        return self.reference


class TextSimilarityGrader(GraderModel):
    """Scores ``input`` against ``reference`` with one text-similarity metric, in [0, 1]."""

    result_type: ClassVar[str] = "text-similarity-grader"
    type: Literal["text_similarity"] = "text_similarity"
    name: str = "text_similarity"
    input: str
    reference: str
    evaluation_metric: Literal[
        "fuzzy_match", "bleu", "gleu", "meteor", "cosine",
        "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
    ]  # fmt: skip

    def reference_template(self) -> str | None:
        return self.reference


class InputText(_Wire):
    type: Literal["input_text", "output_text"]
    text: str


class InputImage(_Wire):
    type: Literal["input_image"]
    image_url: str
    detail: Literal["high", "low", "auto"] = "auto"


class InputAudioData(_Wire):
    data: str
    format: Literal["mp3", "wav"]


class InputAudio(_Wire):
    type: Literal["input_audio"]
    input_audio: InputAudioData


ContentItem = Annotated[InputText | InputImage | InputAudio, Field(discriminator="type")]


class EvalItem(_Wire):
    """One message of a model grader's prompt; every text in it may hold templates."""

    role: Literal["user", "assistant", "system", "developer"]
    content: str | ContentItem | list[str | ContentItem]
    type: Literal["message"] | None = None


class SamplingParams(_Wire):
    """Sampling parameters of a judge model; both spellings of the token limit are accepted."""

    seed: int | None = None
    top_p: float | None = None
    temperature: float | None = None
    max_completions_tokens: int | None = Field(default=None, ge=1)
    reasoning_effort: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _accept_singular(cls, data: Any) -> Any:
        if isinstance(data, dict) and "max_completion_tokens" in data:
            data = dict(data)
            data.setdefault("max_completions_tokens", data.pop("max_completion_tokens"))
        return data


class ScoreModelGrader(GraderModel):
    """Asks a judge model for ``{"result": float, "steps": [...]}``; the result is the reward."""

    result_type: ClassVar[str] = "score-model-grader"
    type: Literal["score_model"] = "score_model"
    name: str = "score_model"
    model: str
    """Judge model; OpenAI names map to a configured backend (see ``openrft.config``)."""
    input: list[EvalItem] = Field(min_length=1)
    range: tuple[float, float] | None = None
    """Scores are clamped to this range; defaults to ``[0, 1]``."""
    sampling_params: SamplingParams | None = None

    @field_validator("range")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError(f"the lower bound {value[0]} is above the upper bound {value[1]}")
        return value

    def score_range(self) -> tuple[float, float] | None:
        return (float(self.range[0]), float(self.range[1])) if self.range else UNIT_RANGE


class LabelModelGrader(GraderModel):
    """Asks a judge model to pick one of ``labels``; passes when it is in ``passing_labels``."""

    result_type: ClassVar[str] = "label-model-grader"
    type: Literal["label_model"] = "label_model"
    name: str = "label_model"
    model: str
    input: list[EvalItem] = Field(min_length=1)
    labels: list[str] = Field(min_length=1)
    passing_labels: list[str] = Field(min_length=1)
    sampling_params: SamplingParams | None = None

    @model_validator(mode="after")
    def _passing_subset(self) -> LabelModelGrader:
        unknown = [label for label in self.passing_labels if label not in self.labels]
        if unknown:
            raise ValueError(f"passing_labels {unknown} are not in labels {self.labels}")
        return self

    def _default_threshold(self) -> float:
        return 1.0

    def answer_labels(self) -> set[str]:
        return set(self.labels)


class PythonGrader(GraderModel):
    """Runs ``grade(sample, item) -> float`` from ``source`` in the sandbox."""

    result_type: ClassVar[str] = "python-grader"
    type: Literal["python"] = "python"
    name: str = "python"
    source: str
    image_tag: str | None = None

    @field_validator("source")
    @classmethod
    def _size(cls, value: str) -> str:
        size = len(value.encode())
        if size > MAX_PYTHON_SOURCE_BYTES:
            raise ValueError(f"source is {size // 1024} kB; the limit is 256 kB")
        return value

    def score_range(self) -> tuple[float, float] | None:
        return None  # whatever grade() returns


SubGrader = StringCheckGrader | TextSimilarityGrader | ScoreModelGrader | LabelModelGrader | PythonGrader


class MultiGrader(GraderModel):
    """Combines named sub-graders with an arithmetic formula over their keys."""

    result_type: ClassVar[str] = "multi-grader"
    type: Literal["multi"] = "multi"
    name: str = "multi"
    graders: dict[str, SubGrader]
    """Sub-graders keyed by the variable names ``calculate_output`` uses."""
    calculate_output: str

    def score_range(self) -> tuple[float, float] | None:
        return None  # whatever the formula gives

    def sub_graders(self) -> dict[str, SubGrader]:
        return dict(self.graders)

    def describe(self) -> str:
        subs = ", ".join(f"{key} ({sub.type})" for key, sub in self.graders.items())
        return f"multi grader '{self.name}': {subs}; output = {self.calculate_output}"


Grader = SubGrader | MultiGrader

GRADER_TYPES: dict[str, type[Grader]] = {
    "string_check": StringCheckGrader,
    "text_similarity": TextSimilarityGrader,
    "score_model": ScoreModelGrader,
    "label_model": LabelModelGrader,
    "python": PythonGrader,
    "multi": MultiGrader,
}
"""Every grader type by its ``type`` name."""


def _describe(error: ErrorDetails) -> str:
    """One readable sentence for one pydantic error."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "literal_error":
        allowed = [a.strip(" '") for a in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")]
        allowed = [a for a in allowed if a != "neq"]
        return f"{value!r} is not one of {', '.join(allowed)}"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _format(errors: list[ErrorDetails], prefix: str) -> tuple[str, str]:
    """(message, param) for a pydantic error list, with the field path in front."""
    first = errors[0]
    loc = [str(part) for part in first["loc"] if not str(part).startswith("function-")]
    # pydantic names union members in the path ("str", "list[...]"); drop those parts.
    loc = [part for part in loc if not any(ch in part for ch in "[]()") and part not in {"str", "int"}]
    path = prefix
    for part in loc:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    message = f"{path}: {_describe(first)}" if path else _describe(first)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return message, path or "grader"


def _parse_one(data: Any, prefix: str, *, nested: bool) -> Grader:
    where = prefix or "grader"
    if not isinstance(data, dict):
        raise GraderValidationError(
            f"{where}: a grader is a JSON object, not {type(data).__name__}", param=where
        )
    kind = data.get("type")
    if kind not in GRADER_TYPES:
        allowed = ", ".join(GRADER_TYPES)
        field = f"{prefix}.type" if prefix else "type"
        shown = "missing" if kind is None else f"{kind!r} is not one of {allowed}"
        raise GraderValidationError(
            f"{field}: {shown}" + ("" if kind else f" (one of {allowed})"), param=field
        )
    if kind == "multi":
        if nested:
            raise GraderValidationError(
                f"{where}: a multi grader cannot contain another multi grader", param=where
            )
        return _parse_multi(data, prefix)
    try:
        return GRADER_TYPES[kind].model_validate(data)
    except ValidationError as exc:
        message, param = _format(exc.errors(), prefix)
        raise GraderValidationError(message, param=param) from None


def _named_subgraders(raw: Any, prefix: str) -> dict[str, Any]:
    """Normalise ``graders`` to a map: OpenAI's canonical form, or a list / single grader keyed by name."""
    field = f"{prefix}.graders" if prefix else "graders"
    if isinstance(raw, dict) and "type" in raw and not isinstance(raw.get("type"), dict):
        raw = [raw]  # the SDK's single-grader form
    if isinstance(raw, list):
        named: dict[str, Any] = {}
        for index, sub in enumerate(raw):
            if not isinstance(sub, dict) or not isinstance(sub.get("name"), str) or not sub["name"]:
                raise GraderValidationError(
                    f"{field}[{index}]: a sub-grader in a list needs a 'name' (it becomes its "
                    "variable in calculate_output)",
                    param=f"{field}[{index}]",
                )
            if sub["name"] in named:
                raise GraderValidationError(
                    f"{field}: two sub-graders are named {sub['name']!r}", param=field
                )
            named[sub["name"]] = sub
        raw = named
    if not isinstance(raw, dict) or not raw:
        raise GraderValidationError(f"{field}: expected a non-empty map of key -> grader", param=field)
    return raw


def _parse_multi(data: dict[str, Any], prefix: str) -> MultiGrader:
    subs = _named_subgraders(data.get("graders"), prefix)
    field = f"{prefix}.graders" if prefix else "graders"
    parsed: dict[str, SubGrader] = {}
    for key, sub in subs.items():
        if isinstance(sub, dict) and "name" not in sub:
            sub = {**sub, "name": key}
        grader = _parse_one(sub, f"{field}.{key}", nested=True)
        assert not isinstance(grader, MultiGrader)  # nested=True refuses one
        parsed[key] = grader
    body = {k: v for k, v in data.items() if k != "graders"}
    body.setdefault("name", "multi")
    try:
        return MultiGrader.model_validate({**body, "graders": parsed})
    except ValidationError as exc:
        message, param = _format(exc.errors(), prefix)
        raise GraderValidationError(message, param=param) from None


def parse_grader(data: Any) -> Grader:
    """Parse grader JSON (a dict) into its model; raises ``GraderValidationError``.

    This checks structure only; :func:`openrft.graders.validate_grader` also checks
    templates, the multi formula and that a python grader's source loads.
    """
    if isinstance(data, Grader):
        return data
    return _parse_one(data, "", nested=False)
