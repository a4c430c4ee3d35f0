"""Responses API items: input items → chat messages, an answer → output items, and the
server-sent events of a streamed response."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping
from typing import Any

from openrft.errors import InvalidRequestError
from openrft.server.api._services.generation import Answer, TokenInfo, content_text
from openrft.server.api._types.responses import (
    FunctionCall,
    FunctionCallOutput,
    InputMessage,
    InputText,
    ItemStatus,
    Logprob,
    OutputItem,
    OutputMessage,
    OutputText,
    Response,
    TopLogprob,
)


def input_items(value: str | list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A request's ``input`` as chat-template messages, and as the items ``input_items`` lists."""
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    if not value:
        raise InvalidRequestError("input: at least one item is required", param="input")
    messages: list[dict[str, Any]] = []
    items: list[Any] = []
    for index, entry in enumerate(value):
        kind, where = entry.get("type", "message"), f"input[{index}]"
        if kind == "message":
            role = entry.get("role")
            if role not in ("system", "developer", "user", "assistant"):
                raise InvalidRequestError(
                    f"{where}.role: {role!r} is not one of system, developer, user, assistant",
                    param=f"{where}.role",
                )
            text = content_text(entry.get("content"), f"{where}.content")
            messages.append({"role": "system" if role == "developer" else role, "content": text})
            if role == "assistant":
                items.append(
                    OutputMessage(id=_id("msg"), status="completed", content=[OutputText(text=text)])
                )
            else:
                items.append(InputMessage(id=_id("msg"), role=role, content=[InputText(text=text)]))
        elif kind == "function_call":
            call = FunctionCall(
                id=entry.get("id") or _id("fc"),
                call_id=_required(entry, "call_id", where),
                name=_required(entry, "name", where),
                arguments=_required(entry, "arguments", where),
            )
            tool_call = {
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            if messages and messages[-1]["role"] == "assistant" and "tool_calls" in messages[-1]:
                messages[-1]["tool_calls"].append(tool_call)
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": [tool_call]})
            items.append(call)
        elif kind == "function_call_output":
            output = entry.get("output")
            text = output if isinstance(output, str) else content_text(output, f"{where}.output")
            result = FunctionCallOutput(
                id=entry.get("id") or _id("fco"), call_id=_required(entry, "call_id", where), output=text
            )
            messages.append({"role": "tool", "content": text, "tool_call_id": result.call_id})
            items.append(result)
        else:
            raise InvalidRequestError(
                f"{where}.type: {kind!r} items are not supported "
                "(message, function_call, function_call_output)",
                param=f"{where}.type",
            )
    return messages, [item.model_dump(mode="json") for item in items]


def _required(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"{where}.{key} is required", param=f"{where}.{key}")
    return value


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def _logprobs(tokens: list[TokenInfo] | None) -> list[Logprob] | None:
    if tokens is None:
        return None
    return [
        Logprob(
            token=t.token,
            bytes=list(t.bytes),
            logprob=t.logprob,
            top_logprobs=[TopLogprob(token=a, bytes=list(b), logprob=v) for a, b, v in t.top],
        )
        for t in tokens
    ]


def output_items(
    answer: Answer, max_tool_calls: int | None, message_id: str | None = None
) -> list[OutputItem]:
    """The answer as output items: its text as a message (unless it only calls tools), then its calls."""
    status: ItemStatus = "incomplete" if answer.finish_reason == "length" else "completed"
    out: list[OutputItem] = []
    calls = list(answer.completion.tool_calls)[:max_tool_calls]
    if answer.text or not calls:
        content = [OutputText(text=answer.text, logprobs=_logprobs(answer.logprobs))]
        out.append(OutputMessage(id=message_id or _id("msg"), status=status, content=content))
    for call in calls:
        out.append(FunctionCall(id=_id("fc"), call_id=call.id, name=call.name, arguments=call.arguments))
    return out


class ResponseEvents:
    """The numbered server-sent events of one streamed response (``event:`` + ``data:`` lines)."""

    def __init__(self, shell: Response):
        self.shell = shell
        self.sequence = 0
        self.message_id = _id("msg")
        self.written = ""
        self.open = False

    def send(self, kind: str, **fields: Any) -> str:
        body = {"type": kind, "sequence_number": self.sequence, **_plain(fields)}
        self.sequence += 1
        return f"event: {kind}\ndata: {json.dumps(body)}\n\n"

    def _place(self) -> dict[str, Any]:
        return {"item_id": self.message_id, "output_index": 0, "content_index": 0}

    def _message(self, status: ItemStatus, text: str, logprobs: Any = None) -> OutputMessage:
        return OutputMessage(
            id=self.message_id,
            status=status,
            content=[OutputText(text=text, logprobs=logprobs)] if text or status != "in_progress" else [],
        )

    def text(self, piece: str) -> Iterator[str]:
        if not self.open:
            self.open = True
            yield self.send(
                "response.output_item.added", output_index=0, item=self._message("in_progress", "")
            )
            yield self.send("response.content_part.added", **self._place(), part=OutputText(text=""))
        self.written += piece
        yield self.send("response.output_text.delta", **self._place(), delta=piece, logprobs=[])

    def finish(self, response: Response) -> Iterator[str]:
        messages = [item for item in response.output if isinstance(item, OutputMessage)]
        if messages:
            final = messages[0].content[0]
            rest = final.text[len(self.written) :] if final.text.startswith(self.written) else ""
            if rest or not self.open:
                yield from self.text(rest)
            logprobs = final.logprobs or []
            yield self.send("response.output_text.done", **self._place(), text=final.text, logprobs=logprobs)
            yield self.send("response.content_part.done", **self._place(), part=final)
            yield self.send("response.output_item.done", output_index=0, item=messages[0])
        for index, call in enumerate(item for item in response.output if isinstance(item, FunctionCall)):
            position = index + len(messages)
            place = {"item_id": call.id, "output_index": position}
            yield self.send(
                "response.output_item.added",
                output_index=position,
                item=call.model_copy(update={"arguments": "", "status": "in_progress"}),
            )
            yield self.send("response.function_call_arguments.delta", **place, delta=call.arguments)
            yield self.send("response.function_call_arguments.done", **place, arguments=call.arguments)
            yield self.send("response.output_item.done", output_index=position, item=call)
        kind = "response.completed" if response.status == "completed" else "response.incomplete"
        yield self.send(kind, response=response)


def _plain(fields: Mapping[str, Any]) -> dict[str, Any]:
    from pydantic import BaseModel

    def dump(value: Any) -> Any:
        if isinstance(value, BaseModel):
            return value.model_dump(mode="json")
        if isinstance(value, list):
            return [dump(v) for v in value]
        return value

    return {key: dump(value) for key, value in fields.items()}
