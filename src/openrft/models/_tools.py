"""Tool calling on local models: definitions shown through the model's own chat template, calls
parsed from its output, and the regular expression that makes it call one (``tool_choice``).

A chat template shows tools when it reads the ``tools`` variable
(``apply_chat_template(..., tools=...)``); one that never does cannot, and asking such a model
to use tools is an error, never a silent drop. The call format is the template family's:

* ``hermes``: ``<tool_call>{"name": …, "arguments": {…}}</tool_call>``, one block per call
  (Qwen2.5, Qwen3, Hermes, SmolLM3 and others whose template writes ``<tool_call>``).

A template that reads ``tools`` but writes no known call format is refused too: its calls could
not be read back.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openrft.errors import InvalidRequestError


@dataclass(frozen=True)
class ToolCall:
    """One function call the model wrote (OpenAI's ``{"id", "type": "function", "function"}``)."""

    name: str
    arguments: str
    """The arguments as JSON text."""
    id: str

    def to_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


_REGEX_SPECIAL = set("\\.+*?()|[]{}^$#&-~")


def _literal(text: str) -> str:
    """``text`` as a regular expression matching only itself (outlines-core's dialect)."""
    return "".join("\\n" if ch == "\n" else f"\\{ch}" if ch in _REGEX_SPECIAL else ch for ch in text)


@dataclass(frozen=True)
class ToolFormat:
    """How one template family writes a call: an opening and closing tag around a JSON object."""

    name: str
    open: str
    close: str

    def parse(self, text: str, names: Sequence[str]) -> tuple[str, list[ToolCall]]:
        """The text without its calls, and the calls to tools in ``names`` (others stay text)."""
        calls: list[ToolCall] = []
        kept: list[str] = []
        position = 0
        pattern = re.compile(
            re.escape(self.open) + r"\s*(\{.*?\})\s*(?:" + re.escape(self.close) + r"|$)", re.S
        )
        for match in pattern.finditer(text):
            call = _call(match.group(1), names)
            if call is None:
                continue
            kept.append(text[position : match.start()])
            position = match.end()
            calls.append(call)
        kept.append(text[position:])
        content = "".join(kept)
        return (content.strip() if calls else content), calls

    def regex(self, tools: Sequence[Mapping[str, Any]], *, parallel: bool) -> str:
        """Output that is one call (or, with ``parallel``, one or more) to one of ``tools``."""
        from openrft.models._constrained import schema_regex

        options = []
        for index, tool in enumerate(tools):
            function = tool["function"]
            parameters = function.get("parameters") or {"type": "object"}
            try:
                arguments = schema_regex(parameters)
            except InvalidRequestError as exc:
                raise InvalidRequestError(
                    f"tools[{index}].function.parameters: {exc.message}",
                    param=f"tools[{index}].function.parameters",
                ) from None
            head = _literal(
                self.open + "\n" + json.dumps({"name": function["name"]})[:-1] + ', "arguments": '
            )
            options.append(head + "(?:" + arguments + ")" + _literal("}\n" + self.close))
        one = "(?:" + "|".join(options) + ")"
        return one + ("(?:\\n" + one + ")*" if parallel else "")


HERMES = ToolFormat("hermes", "<tool_call>", "</tool_call>")


def _call(body: str, names: Sequence[str]) -> ToolCall | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("name") not in names:
        return None
    arguments = value.get("arguments", value.get("parameters", {}))
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return ToolCall(str(value["name"]), arguments, f"call_{secrets.token_hex(12)}")


def _template_source(tokenizer: Any) -> str:
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # named templates: transformers picks "tool_use" when tools are given
        template = template.get("tool_use") or template.get("default")
    return template if isinstance(template, str) else ""


def reads_tools(tokenizer: Any) -> bool:
    """Whether the chat template shows a ``tools`` list to the model."""
    import jinja2
    import jinja2.meta

    source = _template_source(tokenizer)
    try:
        return "tools" in jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(source))
    except jinja2.TemplateSyntaxError:
        return "tools" in source


def tool_format(tokenizer: Any, model: str) -> ToolFormat:
    """The call format of ``tokenizer``'s template; a 400 when it cannot show or write calls."""
    if not reads_tools(tokenizer):
        raise InvalidRequestError(
            f"model {model!r} cannot use tools: its chat template has no tool support",
            param="tools",
            code="tools_not_supported",
        )
    if HERMES.open in _template_source(tokenizer):
        return HERMES
    raise InvalidRequestError(
        f"model {model!r}: its chat template shows tools, but writes calls in a format openrft does not "
        f"read (known: {HERMES.name}, {HERMES.open}…{HERMES.close})",
        param="tools",
        code="tools_not_supported",
    )


def check_tools(tools: Sequence[Any], param: str = "tools") -> list[dict[str, Any]]:
    """OpenAI function tools, checked: ``{"type": "function", "function": {"name", …}}``."""
    out = []
    for index, tool in enumerate(tools):
        where = f"{param}[{index}]"
        if not isinstance(tool, Mapping) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, Mapping) else type(tool).__name__
            raise InvalidRequestError(
                f"{where}.type: {kind!r} tools are not supported (function only)", param=f"{where}.type"
            )
        function = tool.get("function")
        if (
            not isinstance(function, Mapping)
            or not isinstance(function.get("name"), str)
            or not function["name"]
        ):
            raise InvalidRequestError(
                f"{where}.function.name: a function name is required", param=f"{where}.function.name"
            )
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, Mapping):
            raise InvalidRequestError(
                f"{where}.function.parameters: a JSON schema object is required",
                param=f"{where}.function.parameters",
            )
        out.append({"type": "function", "function": dict(function)})
    return out


def forced_tools(tools: Sequence[Mapping[str, Any]], choice: Any) -> list[Mapping[str, Any]] | None:
    """The tools ``tool_choice`` obliges the model to call one of (None: no obligation)."""
    if choice is None or choice in ("auto", "none"):
        return None
    if choice == "required":
        return list(tools)
    name = None
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else choice.get("name")
    chosen = [t for t in tools if t["function"]["name"] == name]
    if not chosen:
        raise InvalidRequestError(
            f"tool_choice: {choice!r} names no tool in tools (use none, auto, required or "
            '{"type": "function", "function": {"name": …}})',
            param="tool_choice",
        )
    return chosen


def template_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI message as chat templates read it: a call's JSON-text arguments as an object."""
    out = dict(message)
    calls = out.get("tool_calls")
    if calls:
        converted = []
        for call in calls:
            call = dict(call)
            function = dict(call.get("function") or {})
            if isinstance(function.get("arguments"), str):
                with contextlib.suppress(ValueError):  # else left as the model wrote it
                    function["arguments"] = json.loads(function["arguments"])
            call["function"] = function
            converted.append(call)
        out["tool_calls"] = converted
    return out


def render_prompt(
    tokenizer: Any,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    *,
    model: str = "the model",
) -> str:
    """One conversation's prompt text through ``tokenizer``'s chat template, ending where the
    assistant's turn starts, with ``tools`` shown; a template without tool support refuses tools
    and tool turns (``param`` names which)."""
    rendered = [template_message(m) for m in messages]
    if tools:
        tool_format(tokenizer, model)
    turns = [i for i, m in enumerate(rendered) if m.get("role") == "tool" or m.get("tool_calls")]
    if turns and not reads_tools(tokenizer):
        raise InvalidRequestError(
            f"model {model!r} cannot read tool calls or tool messages: its chat template has no tool support",
            param=f"messages[{turns[0]}].role",
            code="tools_not_supported",
        )
    extra = {"tools": [dict(t) for t in tools]} if tools else {}
    return str(tokenizer.apply_chat_template(rendered, tokenize=False, add_generation_prompt=True, **extra))


def parse_tool_calls(
    tokenizer: Any, text: str, tools: Sequence[Mapping[str, Any]], *, model: str = "the model"
) -> tuple[str, list[ToolCall]]:
    """``text`` without the calls it makes to ``tools``, and those calls (the template's format)."""
    names = [t["function"]["name"] for t in tools]
    return tool_format(tokenizer, model).parse(text, names)
