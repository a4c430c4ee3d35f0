"""The ``sample`` namespace: what a grader sees of the model's output (reference §1.3)."""

from __future__ import annotations

import json
from typing import Any

Sample = dict[str, Any]


def parse_output_json(text: str) -> Any:
    """The output parsed as JSON when it is a JSON object or array, else ``None``."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict | list) else None


def make_sample(
    output_text: str,
    *,
    output_tools: list[dict[str, Any]] | None = None,
    model: str | None = None,
    finish_reason: str = "stop",
) -> Sample:
    """Build the sample dict a grader receives from one model answer.

    ``output_json`` is filled when the text parses as a JSON object or array; graders that
    reference it on a non-JSON answer get a ``sample_parse_error``.
    """
    tools = output_tools or []
    message: dict[str, Any] = {"role": "assistant", "content": output_text, "refusal": None}
    if tools:
        message["tool_calls"] = tools
    return {
        "model": model,
        "output_text": output_text,
        "output_json": parse_output_json(output_text),
        "output_tools": tools,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
    }


def coerce_sample(sample: str | Sample) -> Sample:
    """Accept a bare answer string or a (possibly partial) sample dict."""
    if isinstance(sample, str):
        return make_sample(sample)
    if not isinstance(sample, dict):
        raise TypeError(f"a sample is a string or an object, not {type(sample).__name__}")
    full = make_sample(str(sample.get("output_text", "")), output_tools=sample.get("output_tools"))
    full.update(sample)
    if "output_json" not in sample:
        full["output_json"] = parse_output_json(full["output_text"])
    return full
