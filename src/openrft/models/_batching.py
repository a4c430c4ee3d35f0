"""Coalescing concurrent one-conversation requests into shared batches: the local judges' backend."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from openrft.errors import InvalidRequestError
from openrft.models._backend import Conversation, GenerationOptions, local_sampling
from openrft.models._generation import Completion
from openrft.models._local import LocalChatModel


@dataclass(eq=False)
class _Job:
    conversation: Sequence[Mapping[str, Any]]
    options: dict[str, Any]
    key: str
    future: Future[list[Completion]] = field(default_factory=Future)


class BatchingChatModel:
    """Coalesces concurrent one-conversation requests into shared :meth:`LocalChatModel.generate` batches.

    Requests with identical options (schema, sampling, limits) that arrive while a batch is
    running, or within ``wait`` seconds of the first, run together in one left-padded batch
    on a single worker thread. On two CPU cores eight judge requests take ~6 s batched
    against ~31 s one after another (SmolLM2-135M, 48 tokens). A seed then applies to the
    whole batch, so sampled answers depend on what they were batched with.
    """

    def __init__(self, model: LocalChatModel, *, max_batch: int = 16, wait: float = 0.01):
        self.model = model
        self._max_batch = max_batch
        self._wait = wait
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, conversation: Sequence[Mapping[str, Any]], **options: Any) -> Future[list[Completion]]:
        """Queue one conversation; the future gets its ``n`` completions."""
        key = json.dumps(options, sort_keys=True, default=str)
        job = _Job(conversation, options, key)
        with self._lock:
            if self._closed:
                raise RuntimeError("the model is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="openrft-local-model", daemon=True)
                self._thread.start()
            self._queue.put(job)
        return job.future

    def _collect(self, backlog: list[_Job]) -> tuple[list[_Job], bool]:
        """The next batch (jobs sharing the first job's options), and whether to stop after it."""
        first = backlog.pop(0) if backlog else self._queue.get()
        if first is None:
            return [], True
        same = [job for job in backlog if job.key == first.key]
        batch = [first, *same[: self._max_batch - 1]]
        backlog[:] = [job for job in backlog if job not in batch]
        deadline = time.monotonic() + self._wait
        while len(batch) < self._max_batch:
            try:
                job = self._queue.get(timeout=max(deadline - time.monotonic(), 0.0001))
            except queue.Empty:
                break
            if job is None:
                return batch, True
            (batch if job.key == first.key else backlog).append(job)
        return batch, False

    def _work(self) -> None:
        backlog: list[_Job] = []
        stop = False
        while not stop:
            batch, stop = self._collect(backlog)
            batch = [job for job in batch if job.future.set_running_or_notify_cancel()]
            if not batch:
                continue
            try:
                results = self.model.generate([job.conversation for job in batch], **batch[0].options)
            except Exception as exc:  # every waiting caller gets the failure
                for job in batch:
                    job.future.set_exception(exc)
                continue
            for job, completions in zip(batch, results, strict=True):
                job.future.set_result(completions)
        for job in backlog:
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(RuntimeError("the model was closed"))

    def close(self, timeout: float = 60.0) -> None:
        """Finish the running batch, fail what is still queued, and drop the weights."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            self._queue.put(None)
        if thread is not None:
            thread.join(timeout)
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None and job.future.set_running_or_notify_cancel():
                job.future.set_exception(RuntimeError("the model was closed"))
        self.model.close()


class BatchingBackend:
    """A :class:`LocalChatModel` behind :class:`SamplingBackend` whose concurrent requests batch.

    What a local judge runs on: many small requests with the same options (a grader's schema
    and sampling parameters), which :class:`BatchingChatModel` runs as shared batches. Messages
    are text only; a request's ``max_time`` bounds its generation.
    """

    def __init__(self, model: LocalChatModel, *, name: str | None = None):
        self.batcher = BatchingChatModel(model)
        self.name = name or model.name

    async def sample(
        self, conversations: Sequence[Conversation], *, n: int = 1, options: GenerationOptions
    ) -> list[list[Completion]]:
        """See :class:`SamplingBackend`."""
        texts = [
            [{**message, "content": _text(message.get("content"), f"messages[{i}].content")}
             for i, message in enumerate(conversation)]
            for conversation in conversations
        ]  # fmt: skip
        arguments = {
            "n": n,
            **local_sampling(options),
            "json_schema": options.json_schema,
            "max_time": options.max_time,
        }
        futures = [self.batcher.submit(conversation, **arguments) for conversation in texts]
        return [await asyncio.wrap_future(future) for future in futures]

    def close(self) -> None:
        self.batcher.close()


def _text(content: Any, param: str) -> str:
    """A message's content as the text local models read: a string, or text parts joined."""
    if content is None or isinstance(content, str):
        return content or ""
    parts = content if isinstance(content, list) else [content]
    if all(isinstance(p, Mapping) and p.get("type") in ("text", "input_text", "output_text") for p in parts):
        return "\n".join(str(p.get("text", "")) for p in parts)
    kinds = sorted({str(p.get("type")) if isinstance(p, Mapping) else type(p).__name__ for p in parts})
    raise InvalidRequestError(f"{param}: local models read text only, not {', '.join(kinds)}", param=param)
