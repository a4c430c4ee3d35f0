"""The Responses API: create (plain, streamed or in the background), retrieve, delete, cancel and
list input items, on the same generation path as chat completions.

A response is stored unless ``store`` is false, with its input items and the conversation so
far, so ``previous_response_id`` continues it (that response's input and output come first;
its ``instructions`` do not carry over, as on OpenAI). ``background`` responses run as a task
of this server process: ``queued``, then ``in_progress``, then stored as finished; ``cancel``
stops one (only background responses can be cancelled, as on OpenAI). A background response
under way when the server stops is not resumed: it stays ``in_progress``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from openrft.errors import InvalidRequestError
from openrft.models import check_tools, parse_text_format
from openrft.server._shared import Principal
from openrft.server.api._services.generation import Answer, Generator, Run, Usage, check_unsupported
from openrft.server.api._services.response_items import ResponseEvents, input_items, output_items
from openrft.server.api._types.common import ListPage
from openrft.server.api._types.responses import (
    CreateResponseRequest,
    IncompleteDetails,
    OutputTokensDetails,
    Response,
    ResponseItemList,
    ResponseUsage,
)
from openrft.store import ResponseRow, Store, now

UNSUPPORTED: dict[str, Any] = {
    "background_options": (),
    "conversation": (),
    "context_management": (),
    "prompt": (),
    "reasoning": (),
    "moderation": (),
    "image": (),
    "access_programs": (),
    "truncation": ("disabled",),
    "service_tier": ("auto", "default"),
}
"""Known parameters openrft cannot honour → the values it accepts (besides null)."""

LOGPROBS = "message.output_text.logprobs"


@dataclass
class _Prepared:
    request: CreateResponseRequest
    history: list[dict[str, Any]]
    """The stored conversation continued, then this request's input (chat template messages)."""
    items: list[dict[str, Any]]
    """This request's input items as ``input_items`` lists them."""
    run_args: dict[str, Any]


class ResponseService:
    def __init__(self, generator: Generator, store: Store):
        self.generator = generator
        self.store = store
        self._background: dict[str, asyncio.Task[None]] = {}

    # --- create ---
    def _prepare(self, request: CreateResponseRequest, principal: Principal) -> _Prepared:
        check_unsupported(request, UNSUPPORTED, "responses")
        extra = set(request.include or ()) - {LOGPROBS}
        if extra:
            raise InvalidRequestError(
                f"include: {sorted(extra)} not supported (only {LOGPROBS})", param="include"
            )
        if request.background and (request.store is False or request.stream):
            raise InvalidRequestError("background responses need store on and stream off", param="background")
        history: list[dict[str, Any]] = []
        if request.previous_response_id:
            previous = self._row(request.previous_response_id, principal, "previous_response_id")
            history = list(previous.conversation)
        messages, items = input_items(request.input)
        tools = check_tools([_chat_tool(t, i) for i, t in enumerate(request.tools or [])]) or None
        logprobs = (request.top_logprobs or 0) if LOGPROBS in (request.include or ()) else None
        fmt = parse_text_format(request.text)
        options = self.generator.options(
            temperature=request.temperature,
            top_p=request.top_p,
            max_tokens=self.generator.max_tokens(request.max_output_tokens, "max_output_tokens"),
            response_format=fmt.wire if fmt is not None else None,
            logprobs=logprobs,
            tools=tools,
            tool_choice=_chat_tool_choice(request.tool_choice),
            parallel_tool_calls=request.parallel_tool_calls,
        )
        system = [{"role": "system", "content": request.instructions}] if request.instructions else []
        run_args = {"n": 1, "options": options, "conversation": system + history + messages}
        return _Prepared(request, history + messages, items, run_args)

    def _run(self, prepared: _Prepared, *, stream: bool) -> Any:
        args = prepared.run_args
        return self.generator.run(
            prepared.request.model, args["conversation"], n=1, options=args["options"], stream=stream
        )

    async def create(self, principal: Principal, request: CreateResponseRequest) -> Response:
        prepared = self._prepare(request, principal)
        project = principal.project
        ident = f"resp_{secrets.token_hex(24)}"
        if request.background:
            return self._start_background(ident, prepared, project)
        async with self._run(prepared, stream=False) as run:
            [answer] = await run.answers()
        response = self._response(ident, now(), request, answer)
        self._save(response, prepared, answer, project)
        return response

    async def stream(self, principal: Principal, request: CreateResponseRequest) -> AsyncIterator[str]:
        """Server-sent events (``response.created`` … ``response.completed``), text as it is written."""
        prepared = self._prepare(request, principal)
        project = principal.project
        stack = AsyncExitStack()
        run: Run = await stack.enter_async_context(self._run(prepared, stream=True))
        return self._events(prepared, run, stack, project)

    async def _events(
        self, prepared: _Prepared, run: Run, stack: AsyncExitStack, project: str
    ) -> AsyncIterator[str]:
        request = prepared.request
        shell = self._response(f"resp_{secrets.token_hex(24)}", now(), request, None)
        events = ResponseEvents(shell)
        async with stack:
            yield events.send("response.created", response=shell)
            yield events.send("response.in_progress", response=shell)
            async for _, piece in run.pieces():
                for event in events.text(piece):
                    yield event
            [answer] = await run.answers()
        response = self._response(shell.id, shell.created_at, request, answer, message_id=events.message_id)
        self._save(response, prepared, answer, project)
        for event in events.finish(response):
            yield event

    # --- background ---
    def _start_background(self, ident: str, prepared: _Prepared, project: str) -> Response:
        request = prepared.request
        queued = self._response(ident, now(), request, None).model_copy(update={"status": "queued"})
        self.store.add(
            ResponseRow(
                id=ident,
                project=project,
                created_at=queued.created_at,
                status="queued",
                response=queued.model_dump(mode="json"),
                input_items=prepared.items,
                conversation=prepared.history,
            )
        )

        async def work() -> None:
            self._set(ident, queued.model_copy(update={"status": "in_progress"}))
            try:
                async with self._run(prepared, stream=False) as run:
                    [answer] = await run.answers()
            except asyncio.CancelledError:
                self._set(ident, queued.model_copy(update={"status": "cancelled"}))
                raise
            except Exception:
                self._set(ident, queued.model_copy(update={"status": "failed"}))
                raise
            finally:
                self._background.pop(ident, None)
            done = self._response(ident, queued.created_at, request, answer)
            self._set(ident, done, conversation=prepared.history + _assistant_turn(answer))

        self._background[ident] = asyncio.create_task(work())
        return queued

    def _set(self, ident: str, response: Response, **values: Any) -> None:
        self.store.update(
            ResponseRow, ident, status=response.status, response=response.model_dump(mode="json"), **values
        )

    # --- stored responses ---
    def _row(self, ident: str, principal: Principal, param: str | None = None) -> ResponseRow:
        where = {} if principal.scope is None else {"project": principal.scope}
        return self.store.get(ResponseRow, ident, param=param, **where)

    def retrieve(self, principal: Principal, ident: str) -> Response:
        return Response.model_validate(self._row(ident, principal).response)

    def delete(self, principal: Principal, ident: str) -> None:
        self._row(ident, principal)
        task = self._background.pop(ident, None)
        if task is not None:
            task.cancel()
        self.store.delete(ResponseRow, ident)

    async def cancel(self, principal: Principal, ident: str) -> Response:
        row = self._row(ident, principal)
        if not row.response.get("background"):
            raise InvalidRequestError(
                "Only responses created with background=true can be cancelled", param="response_id"
            )
        task = self._background.get(ident)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return self.retrieve(principal, ident)

    def input_items(
        self, principal: Principal, ident: str, *, after: str | None, limit: int, order: str
    ) -> ResponseItemList:
        items = list(self._row(ident, principal).input_items)
        if order == "desc":
            items.reverse()
        ids = [item["id"] for item in items]
        start = ids.index(after) + 1 if after in ids else 0
        page = items[start : start + limit]
        listed = ListPage[Any](data=page).model_dump()
        listed.update(
            first_id=page[0]["id"] if page else None,
            last_id=page[-1]["id"] if page else None,
            has_more=start + limit < len(items),
        )
        return ResponseItemList.model_validate(listed)

    def close(self) -> None:
        for task in self._background.values():
            task.cancel()

    # --- shapes ---
    def _response(
        self,
        ident: str,
        created: int,
        request: CreateResponseRequest,
        answer: Answer | None,
        *,
        message_id: str | None = None,
    ) -> Response:
        complete = answer is None or answer.finish_reason != "length"
        usage = None
        if answer is not None:
            counts = Usage.of([answer])
            usage = ResponseUsage(
                input_tokens=counts.prompt_tokens,
                output_tokens=counts.completion_tokens,
                output_tokens_details=OutputTokensDetails(reasoning_tokens=counts.reasoning_tokens),
                total_tokens=counts.prompt_tokens + counts.completion_tokens,
            )
        return Response(
            id=ident,
            created_at=created,
            status=("completed" if complete else "incomplete") if answer is not None else "in_progress",
            model=request.model,
            output=output_items(answer, request.max_tool_calls, message_id) if answer is not None else [],
            usage=usage,
            instructions=request.instructions,
            temperature=request.temperature,
            top_p=request.top_p,
            max_output_tokens=request.max_output_tokens,
            max_tool_calls=request.max_tool_calls,
            metadata=request.metadata or {},
            text=request.text or {"format": {"type": "text"}},
            incomplete_details=None if complete else IncompleteDetails(reason="max_output_tokens"),
            parallel_tool_calls=request.parallel_tool_calls is not False,
            tool_choice=request.tool_choice or "auto",
            tools=request.tools or [],
            previous_response_id=request.previous_response_id,
            store=request.store is not False,
            background=bool(request.background),
            top_logprobs=request.top_logprobs,
            user=request.user,
        )

    def _save(self, response: Response, prepared: _Prepared, answer: Answer, project: str) -> None:
        if prepared.request.store is False:
            return
        self.store.add(
            ResponseRow(
                id=response.id,
                project=project,
                created_at=response.created_at,
                status=response.status,
                response=response.model_dump(mode="json"),
                input_items=prepared.items,
                conversation=prepared.history + _assistant_turn(answer),
            )
        )


def _assistant_turn(answer: Answer) -> list[dict[str, Any]]:
    turn: dict[str, Any] = {"role": "assistant", "content": answer.text}
    if answer.completion.tool_calls:
        turn["tool_calls"] = [call.to_openai() for call in answer.completion.tool_calls]
    return [turn]


def _chat_tool(tool: Mapping[str, Any], index: int) -> dict[str, Any]:
    """A Responses function tool (flat: ``name``, ``parameters``) in chat's nested form."""
    if tool.get("type") != "function":
        raise InvalidRequestError(
            f"tools[{index}].type: {tool.get('type')!r} tools are not supported (function only)",
            param=f"tools[{index}].type",
        )
    function = {k: v for k, v in tool.items() if k in ("name", "description", "parameters")}
    return {"type": "function", "function": function}


def _chat_tool_choice(choice: Any) -> Any:
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return choice
