"""``score_model`` and ``label_model``: ask a judge model, parse its answer into a reward.

The judge is asked for structured output through ``response_format`` (reference §2.3,
and the cookbook's ``float_score_classification`` schema)::

    score_model:  {"result": <number in range>, "steps": [{"description", "conclusion"}, ...]}
    label_model:  {"steps": [...], "result": <one of labels>}

Answers are parsed leniently (a JSON object, JSON in a fenced block, the first ``{...}``
in the text, a ``"result": …`` pair in cut-off JSON, and for score_model a bare number).
A score is clamped to ``range`` (default ``[0, 1]``); anything non-numeric gives reward 0
with ``model_grader_parse_error``. A refusal sets ``model_grader_refusal_error``, a request
that fails after retries ``model_grader_server_error``. None of these raise; a template
that references a missing variable does (the runner records ``invalid_variable_error``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from openrft.graders._judge import JudgeReply, JudgeRequestError, get_judge
from openrft.graders._results import Grade, GraderErrors
from openrft.graders._runtime import GraderRuntime
from openrft.graders._schema import (
    EvalItem,
    InputAudio,
    InputImage,
    LabelModelGrader,
    SamplingParams,
    ScoreModelGrader,
)
from openrft.graders._template import render

_STEPS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "A sequence of steps outlining the reasoning process.",
    "items": {
        "type": "object",
        "properties": {
            "description": {
                "type": "string",
                "description": "Detailed description of the reasoning in this step.",
            },
            "conclusion": {"type": "string", "description": "The conclusion of the reasoning in this step."},
        },
        "required": ["description", "conclusion"],
        "additionalProperties": False,
    },
}

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_RESULT_NUMBER = re.compile(r'"result"\s*:\s*"?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*"?\s*[,}]')
_RESULT_STRING = re.compile(r'"result"\s*:\s*"((?:[^"\\]|\\.)*)"')
_BARE_NUMBER = re.compile(r"[\s\"'*`]*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[\s\"'*`.]*")


def score_response_format(low: float, high: float) -> dict[str, Any]:
    """The ``response_format`` that asks for ``{"result", "steps"}`` (score_model)."""
    result = {
        "type": "number",
        "description": f"The float score assigned to the response. This should be in inclusive range "
        f"{low:g} to {high:g}.",
    }
    return _json_schema_format("score_model_result", {"result": result, "steps": _STEPS_SCHEMA})


def label_response_format(labels: list[str]) -> dict[str, Any]:
    """The ``response_format`` that asks for ``{"steps", "result": <label>}`` (label_model)."""
    result = {"type": "string", "enum": list(labels), "description": "The label assigned to the response."}
    return _json_schema_format("label_model_result", {"steps": _STEPS_SCHEMA, "result": result})


def _json_schema_format(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


# --- prompt --------------------------------------------------------------------------------


def _render_part(part: Any, sample: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """One content item as a chat-completions content part, its templates rendered."""
    if isinstance(part, str):
        return {"type": "text", "text": render(part, sample=sample, item=item)}
    if isinstance(part, InputImage):
        url = render(part.image_url, sample=sample, item=item)
        return {"type": "image_url", "image_url": {"url": url, "detail": part.detail}}
    if isinstance(part, InputAudio):
        data = render(part.input_audio.data, sample=sample, item=item)
        return {"type": "input_audio", "input_audio": {"data": data, "format": part.input_audio.format}}
    return {"type": "text", "text": render(part.text, sample=sample, item=item)}


def render_messages(
    messages: list[EvalItem], sample: dict[str, Any], item: dict[str, Any]
) -> list[dict[str, Any]]:
    """EvalItem messages → chat-completions messages, every template rendered.

    ``developer`` becomes ``system`` (OpenAI treats them alike; other backends only know
    ``system``). Text-only content becomes one string, parts joined by newlines.
    """
    chat: list[dict[str, Any]] = []
    for message in messages:
        content = message.content
        parts = [_render_part(p, sample, item) for p in (content if isinstance(content, list) else [content])]
        role = "system" if message.role == "developer" else message.role
        if all(p["type"] == "text" for p in parts):
            chat.append({"role": role, "content": "\n".join(p["text"] for p in parts)})
        else:
            chat.append({"role": role, "content": parts})
    return chat


def sampling_kwargs(params: SamplingParams | None) -> dict[str, Any]:
    """Chat-completions arguments from a grader's ``sampling_params`` (only those set)."""
    if params is None:
        return {}
    mapped = {
        "max_completion_tokens": params.max_completions_tokens,
        "seed": params.seed,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "reasoning_effort": params.reasoning_effort,
    }
    return {key: value for key, value in mapped.items() if value is not None}


# --- parsing -------------------------------------------------------------------------------


def _json_objects(text: str) -> list[Any]:
    """JSON values found in ``text``: all of it, fenced blocks, then the first ``{...}``."""
    found: list[Any] = []
    candidates = [text.strip(), *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for candidate in candidates:
        try:
            found.append(json.loads(candidate))
        except ValueError:
            continue
    decoder = json.JSONDecoder()
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            found.append(decoder.raw_decode(text, start)[0])
            break
        except ValueError:
            continue
    return found


def _steps(obj: dict[str, Any]) -> list[Any]:
    steps = obj.get("steps")
    return steps if isinstance(steps, list) else []


def _to_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def parse_score(text: str) -> tuple[float | None, list[Any], str | None]:
    """(score, steps, problem) from a judge's answer; ``score`` is None when there is none."""
    for found in _json_objects(text):
        if isinstance(found, dict) and "result" in found:
            number = _to_number(found["result"])
            if number is None:
                return None, _steps(found), f"result {found['result']!r} is not a finite number"
            return number, _steps(found), None
        if not isinstance(found, dict) and (number := _to_number(found)) is not None:
            return number, [], None
    if match := _RESULT_NUMBER.search(text):  # cut-off JSON that got as far as its result
        number = _to_number(match.group(1))
        if number is not None:
            return number, [], None
    if match := _BARE_NUMBER.fullmatch(text):
        number = _to_number(match.group(1))
        if number is not None:
            return number, [], None
    return None, [], "no numeric result in the judge's answer"


def parse_label(text: str, labels: list[str]) -> tuple[str | None, list[Any], str | None]:
    """(label, steps, problem): the judge's label matched to ``labels`` (any case, trimmed)."""
    by_key = {label.strip().casefold(): label for label in labels}
    raw: Any = None
    steps: list[Any] = []
    for found in _json_objects(text):
        if isinstance(found, dict) and "result" in found:
            raw, steps = found["result"], _steps(found)
            break
        if isinstance(found, str):
            raw = found
            break
    if raw is None and (match := _RESULT_STRING.search(text)):
        raw = match.group(1)
    if raw is None:
        raw = text  # the whole answer may be just the label
    if isinstance(raw, str) and (label := by_key.get(raw.strip().strip("\"'`*.").strip().casefold())):
        return label, steps, None
    shown = raw if len(str(raw)) <= 200 else f"{str(raw)[:200]}…"
    return None, steps, f"label {shown!r} is not one of {labels}"


# --- graders -------------------------------------------------------------------------------


async def _ask(
    grader: ScoreModelGrader | LabelModelGrader,
    chat: list[dict[str, Any]],
    response_format: dict[str, Any],
    rt: GraderRuntime,
) -> tuple[JudgeReply | None, Grade]:
    """Send the prompt; a failed request comes back as a finished, failed Grade."""
    judge = get_judge(rt)
    model = judge.model_name(grader.model)
    shown = _public_name(model, grader.model)
    grade = Grade(sampled_model_name=shown, details={"sample": {"input": chat, "output": []}})
    try:
        reply = await judge.complete(
            model=model,
            messages=chat,
            response_format=response_format,
            **sampling_kwargs(grader.sampling_params),
        )
    except JudgeRequestError as exc:
        grade.errors = GraderErrors(
            model_grader_server_error=True, model_grader_server_error_details=str(exc)
        )
        return None, grade
    shown = _public_name(reply.model, grader.model)
    grade.sampled_model_name = shown
    grade.token_usage = reply.usage
    grade.usage_per_model = {shown: reply.usage}
    grade.details["sample"].update(
        output=[{"role": "assistant", "content": reply.content, "refusal": reply.refusal}],
        model=shown,
        finish_reason=reply.finish_reason,
    )
    if reply.refusal:
        grade.errors = GraderErrors(model_grader_refusal_error=True)
        return None, grade
    return reply, grade


def _public_name(model: str, asked: str) -> str:
    """The judge's model as results show it: a local folder the grader's name maps to is shown by
    that name, never as a server path."""
    return asked if model.startswith(("/", "./", "../", "~")) else model


async def grade_score_model(
    grader: ScoreModelGrader, sample: dict[str, Any], item: dict[str, Any], rt: GraderRuntime
) -> Grade:
    """Ask the judge for a score; the reward is its ``result``, clamped to ``range``."""
    low, high = grader.range or (0.0, 1.0)
    chat = render_messages(grader.input, sample, item)
    reply, grade = await _ask(grader, chat, score_response_format(low, high), rt)
    if reply is None:
        return grade
    score, steps, problem = parse_score(reply.content or "")
    grade.details.update(steps=steps, result=score)
    if score is None:
        grade.errors = GraderErrors(model_grader_parse_error=True)
        grade.details["parse_error"] = problem
        return grade
    grade.reward = min(max(score, low), high)
    return grade


async def grade_label_model(
    grader: LabelModelGrader, sample: dict[str, Any], item: dict[str, Any], rt: GraderRuntime
) -> Grade:
    """Ask the judge for one of ``labels``; reward 1.0 if it is a passing label, else 0.0."""
    chat = render_messages(grader.input, sample, item)
    reply, grade = await _ask(grader, chat, label_response_format(grader.labels), rt)
    if reply is None:
        return grade
    label, steps, problem = parse_label(reply.content or "", grader.labels)
    grade.details.update(steps=steps, result=label)
    if label is None:
        grade.errors = GraderErrors(model_grader_parse_error=True)
        grade.details["parse_error"] = problem
        return grade
    grade.label = label
    grade.reward = 1.0 if label in grader.passing_labels else 0.0
    grade.details["passed"] = label in grader.passing_labels
    return grade
