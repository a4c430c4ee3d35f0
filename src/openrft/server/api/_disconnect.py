"""Work for a request that stops when its client goes away.

A streamed answer stops by itself (the server stops reading the stream); a plain one would be
computed to the end for nobody, so its route awaits it through :func:`unless_disconnected`,
which cancels it once the client has hung up (cancelling a generation stops it at its next
token).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import Request, Response

T = TypeVar("T")

CLIENT_CLOSED = 499
"""What the log shows for a request whose client left first (nginx's code; nobody receives it)."""


async def unless_disconnected(request: Request, work: Awaitable[T], *, poll: float = 0.25) -> T | Response:
    """``work``'s result, or an empty 499 after cancelling it when the client disconnects first."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=poll)
            if done:
                return task.result()
            if await request.is_disconnected():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                return Response(status_code=CLIENT_CLOSED)
    finally:
        if not task.done():
            task.cancel()
