"""One row's ``messages`` (and ``tools``): checked against OpenAI's RFT line schema, normalised.

The reference is ``FineTuneReinforcementRequestInput`` (openai-rft-api.md §5.8): developer,
user, assistant and tool messages; text content only. What is normalised, so that every
layer above sees one shape:

* ``system`` becomes ``developer`` (the schema has no system message, but chat-completions
  clients send it all the time);
* content given as a list of ``{"type": "text", "text": ...}`` parts becomes one string, the
  parts joined by newlines (as vLLM does; gluing them would merge words).

Every problem is returned, not raised, so that a file reports all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("developer", "user", "assistant", "tool")
"""The roles an RFT prompt may use (``system`` is accepted and read as ``developer``)."""


@dataclass
class RowCheck:
    """What checking one row's messages found."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    used_system: bool = False
    joined_parts: bool = False


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def _content(value: Any, where: str, check: RowCheck) -> str | None:
    """The content as one string, or None after recording why it cannot be one."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        check.problems.append(f"{where}: must be a string or a list of text parts, not {_kind(value)}")
        return None
    if not value:
        check.problems.append(f"{where}: is an empty list")
        return None
    texts: list[str] = []
    for index, part in enumerate(value):
        at = f"{where}[{index}]"
        if not isinstance(part, dict):
            check.problems.append(f"{at}: a content part must be an object, not {_kind(part)}")
        elif part.get("type") != "text":
            kind = part.get("type")
            why = "only text parts are supported" if kind else "a content part needs a 'type'"
            check.problems.append(f"{at}.type: {kind!r}: {why}" if kind else f"{at}: {why}")
        elif not isinstance(part.get("text"), str):
            check.problems.append(f"{at}.text: must be a string, not {_kind(part.get('text'))}")
        else:
            texts.append(part["text"])
    if len(texts) != len(value):
        return None
    check.joined_parts = True
    return "\n".join(texts)


def _message(value: Any, where: str, check: RowCheck) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        check.problems.append(f"{where}: a message must be an object, not {_kind(value)}")
        return None
    role = value.get("role")
    if "role" not in value:
        check.problems.append(f"{where}: missing 'role'")
        return None
    if role == "system":
        role = "developer"
        check.used_system = True
    elif role not in ROLES:
        allowed = ", ".join(ROLES)
        check.problems.append(f"{where}.role: {role!r} is not one of {allowed} (or system)")
        return None
    message = {**value, "role": role}
    tool_calls = value.get("tool_calls")
    if role == "assistant" and value.get("content") is None and tool_calls:
        if not isinstance(tool_calls, list):
            check.problems.append(f"{where}.tool_calls: must be a list, not {_kind(tool_calls)}")
            return None
        return message  # an assistant turn that only calls tools has no content
    if "content" not in value:
        check.problems.append(f"{where}: missing 'content'")
        return None
    content = _content(value["content"], f"{where}.content", check)
    if content is None:
        return None
    if role == "tool" and not isinstance(value.get("tool_call_id"), str):
        check.problems.append(f"{where}: a tool message needs a string 'tool_call_id'")
        return None
    message["content"] = content
    return message


def check_messages(value: Any) -> RowCheck:
    """Check a row's ``messages`` value; problems are ``messages[i].field: what is wrong``."""
    check = RowCheck()
    if not isinstance(value, list):
        check.problems.append(f"'messages' must be a list of messages, not {_kind(value)}")
        return check
    if not value:
        check.problems.append("'messages' is empty: a prompt needs at least one message")
        return check
    for index, raw in enumerate(value):
        message = _message(raw, f"messages[{index}]", check)
        if message is not None:
            check.messages.append(message)
    last = value[-1]
    if isinstance(last, dict) and last.get("role") == "assistant":
        check.problems.append(
            f"messages[{len(value) - 1}]: the prompt ends with an assistant message; it must end with "
            "a user, developer or tool turn (the model writes the next assistant turn). If this is "
            "the expected answer, move it to a field such as 'reference_answer'"
        )
    return check


def check_tools(value: Any) -> list[str]:
    """Problems with a row's ``tools`` (a list of ``{"type": "function", "function": {"name"}}``)."""
    if not isinstance(value, list):
        return [f"'tools' must be a list of tool definitions, not {_kind(value)}"]
    problems: list[str] = []
    for index, tool in enumerate(value):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            problems.append(f"{where}: a tool must be an object, not {_kind(tool)}")
        elif tool.get("type") != "function":
            problems.append(f"{where}.type: {tool.get('type')!r}: only 'function' tools are supported")
        elif not isinstance(tool.get("function"), dict) or not isinstance(tool["function"].get("name"), str):
            problems.append(f"{where}.function: needs an object with a string 'name'")
    return problems
