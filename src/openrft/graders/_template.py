"""``{{ namespace.path }}`` templates, as OpenAI's graders use them.

The namespaces are ``item`` (the dataset row) and ``sample`` (the model's output). Paths use
dot access and ``[n]`` indexing (``{{sample.output_tools[0].function.name}}``); whitespace
inside the braces is allowed. Strings render as they are, every other value as compact JSON
(OpenAI leaves this undocumented; compact JSON is what prompts like ``{{item.messages}}`` need).

A path that does not resolve raises :class:`TemplateVariableError`, which the grader runner
records as ``invalid_variable_error`` (or ``sample_parse_error`` when the path goes through
``sample.output_json`` and the output was not JSON).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_KEY = r"[A-Za-z_][\w\-]*"
_STEP = re.compile(rf"\.({_KEY})|\[(\d+)\]|\[\"([^\"]*)\"\]|\['([^']*)'\]")
_PATH = re.compile(rf"^({_KEY})((?:\.{_KEY}|\[\d+\]|\[\"[^\"]*\"\]|\['[^']*'\])*)$")
NAMESPACES = ("item", "sample")


class TemplateVariableError(Exception):
    """A template referenced something the item or sample does not have."""

    def __init__(self, path: str, reason: str, *, flag: str = "invalid_variable_error"):
        super().__init__(f"{{{{{path}}}}}: {reason}")
        self.path = path
        self.flag = flag


@lru_cache(maxsize=4096)
def _parse_path(expr: str) -> tuple[str, tuple[str | int, ...]]:
    """(namespace, steps) of one template variable; cached, since graders render the same ones repeatedly."""
    match = _PATH.match(expr)
    if match is None:
        raise ValueError(
            f"'{{{{{expr}}}}}' is not a valid template variable; use "
            "{{item.field}} or {{sample.output_text}}, with .key and [n] steps"
        )
    namespace, rest = match.group(1), match.group(2)
    if namespace not in NAMESPACES:
        raise ValueError(
            f"'{{{{{expr}}}}}' uses namespace '{namespace}'; the namespaces are {', '.join(NAMESPACES)}"
        )
    steps: list[str | int] = []
    for step in _STEP.finditer(rest):
        key, index, dq, sq = step.groups()
        steps.append(int(index) if index is not None else (key or dq or sq or ""))
    return namespace, tuple(steps)


def template_problems(text: str) -> list[str]:
    """Syntax problems of every template variable in ``text`` (empty when all are valid)."""
    problems = []
    for match in _PLACEHOLDER.finditer(text):
        try:
            _parse_path(match.group(1).strip())
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def _resolve(expr: str, context: dict[str, Any]) -> Any:
    try:
        namespace, steps = _parse_path(expr)
    except ValueError as exc:
        raise TemplateVariableError(expr, str(exc)) from None
    value: Any = context.get(namespace)
    walked = namespace
    for step in steps:
        if walked == "sample.output_json" and value is None:
            raise TemplateVariableError(expr, "the sample is not valid JSON", flag="sample_parse_error")
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                raise TemplateVariableError(expr, f"{walked} has no element [{step}]")
            value = value[step]
            walked += f"[{step}]"
        else:
            if not isinstance(value, dict) or step not in value:
                raise TemplateVariableError(expr, f"{walked} has no key '{step}'")
            value = value[step]
            walked += f".{step}"
    if walked == "sample.output_json" and value is None:
        raise TemplateVariableError(expr, "the sample is not valid JSON", flag="sample_parse_error")
    return value


def to_text(value: Any) -> str:
    """How a value appears inside a rendered template."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def render(text: str, *, sample: dict[str, Any], item: dict[str, Any]) -> str:
    """Replace every template variable in ``text``; raises :class:`TemplateVariableError`."""
    if "{{" not in text:
        return text
    context = {"sample": sample, "item": item}
    return _PLACEHOLDER.sub(lambda m: to_text(_resolve(m.group(1).strip(), context)), text)
