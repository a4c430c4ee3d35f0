"""A local Hugging Face transformers chat model: batched generation, optionally JSON-constrained.

torch and transformers are imported inside this module's functions, so that importing
``openrft.models`` (or ``openrft.graders``) stays cheap.

**Constrained decoding** uses ``outlines-core`` (pinned ``outlines-core==0.2.14``). Among the
libraries made for it, it is the one that fits this project: a Rust library maintained by
.txt (the Outlines authors) and used by vLLM as a structured-output backend, with a
cp311 manylinux wheel and *no* dependencies at all, so it cannot touch torch 2.13.0+cpu.
``xgrammar`` 0.2.8 pulls ``triton`` (a GPU compiler) and ``apache-tvm-ffi``;
``lm-format-enforcer`` is pure Python and walks a character trie every step. outlines-core
compiles the JSON schema to a regular expression and then to a token-level automaton
(an ``Index``) over the tokenizer's vocabulary; each decoding step asks the automaton
which tokens are allowed and masks the others, so the output matches the schema whenever
the model stops by itself (a ``length`` stop can still cut it short).
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openrft.errors import BackendUnavailable, InvalidRequestError

if TYPE_CHECKING:
    import torch

WHITESPACE_PATTERN = r"[ ]?"
"""Whitespace allowed between JSON tokens: at most one space (small models loop on newlines)."""

_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")
_INDEX_CACHE_SIZE = 32


@dataclass(frozen=True)
class Completion:
    """One generated answer with OpenAI-style accounting."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    """Generated tokens, the end-of-sequence token included when the model stopped."""
    finish_reason: str
    """``stop`` (the model ended its turn) or ``length`` (``max_tokens`` or ``max_time`` hit)."""
    reasoning_tokens: int = 0
    """Tokens of the completion spent inside ``<think>…</think>`` (counted in ``completion_tokens``)."""


def _byte_level_decoder() -> dict[str, int]:
    """GPT-2's byte-to-unicode table, inverted: a byte-level BPE token's characters → bytes."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), 256)]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(char): byte for byte, char in zip(printable, chars, strict=True)}


def _decoder_types(tokenizer: Any) -> set[str]:
    """Types of the tokenizers-library decoder (``ByteLevel``, ``Metaspace``…), flattened."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return set()
    pending = [json.loads(backend.to_str()).get("decoder") or {}]
    types: set[str] = set()
    while pending:
        node = pending.pop()
        types.add(str(node.get("type")))
        pending.extend(node.get("decoders") or [])
    return types


def token_bytes(tokenizer: Any) -> dict[int, bytes]:
    """The exact bytes each ordinary token adds to the text; special tokens are left out."""
    kinds = _decoder_types(tokenizer)
    byte_level = _byte_level_decoder() if "ByteLevel" in kinds else None
    added = {i: tok for i, tok in tokenizer.added_tokens_decoder.items()}
    out: dict[int, bytes] = {}
    for token, token_id in tokenizer.get_vocab().items():
        if token_id in added:
            if not added[token_id].special:
                out[token_id] = added[token_id].content.encode()
            continue
        if byte_level is not None and all(ch in byte_level for ch in token):
            out[token_id] = bytes(byte_level[ch] for ch in token)
        elif (match := _BYTE_TOKEN.fullmatch(token)) and "ByteFallback" in kinds:
            out[token_id] = bytes([int(match.group(1), 16)])
        elif kinds:
            out[token_id] = token.replace("▁", " ").encode()
        else:  # a slow tokenizer: ask it
            out[token_id] = tokenizer.convert_tokens_to_string([token]).encode()
    return out


class _JsonLogitsProcessor:
    """Masks every token that would leave the JSON schema's automaton, row by row.

    Rows that have emitted the end-of-sequence token only get that token (the padding that
    ``generate`` appends after it never reaches the automaton).
    """

    def __init__(self, index: Any, rows: int, prompt_width: int, eos_id: int):
        from outlines_core import Guide

        self._guides = [Guide(index) for _ in range(rows)]
        self._done = [False] * rows
        self._width = prompt_width
        self._eos = eos_id

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        rows, vocab = scores.shape
        words = (vocab + 31) // 32
        bitmask = torch.zeros((rows, words), dtype=torch.int32)
        fresh = input_ids.shape[1] == self._width
        for row, guide in enumerate(self._guides):
            if not fresh and not self._done[row]:
                token = int(input_ids[row, -1])
                if token == self._eos or not guide.accepts_tokens([token]):
                    self._done[row] = True
                else:
                    guide.advance(token, return_tokens=False)
            if not self._done[row] and not guide.is_finished():
                guide.write_mask_into(bitmask[row].data_ptr(), words, 4)
        shifts = torch.arange(32, dtype=torch.int32)
        allowed = ((bitmask.unsqueeze(-1) >> shifts) & 1).bool().view(rows, -1)[:, :vocab].clone()
        stuck = ~allowed.any(dim=1)
        allowed[stuck, self._eos] = True  # finished or dead end: only the end of the turn
        return scores.masked_fill(~allowed.to(scores.device), float("-inf"))


class LocalChatModel:
    """A causal LM with a chat template, loaded from a checkpoint folder.

    :meth:`generate` is thread-safe: one generation runs at a time (asyncio callers run it
    in a worker thread). Use :func:`openrft.models.resolve_model_path` to get a folder from
    a packaged model name or a GGUF file.
    """

    def __init__(self, path: str | Path, *, device: str = "cpu", dtype: str = "float32"):
        from openrft.models._resolve import set_offline

        set_offline()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.path = Path(path)
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if not self.tokenizer.chat_template:
            raise InvalidRequestError(f"{self.path} has no chat template", code="model_not_supported")
        self.model = AutoModelForCausalLM.from_pretrained(
            self.path, dtype=getattr(torch, dtype), local_files_only=True
        ).to(device)
        self.model.eval()
        self._lock = threading.Lock()
        self._vocabulary: Any = None
        self._indexes: OrderedDict[str, Any] = OrderedDict()

    @property
    def eos_token_id(self) -> int:
        return int(self.tokenizer.eos_token_id)

    def render(self, messages: Sequence[Mapping[str, Any]]) -> str:
        """The prompt text for one conversation, ending where the assistant's turn starts."""
        text = self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
        )
        return str(text)

    def _index_for(self, json_schema: Mapping[str, Any]) -> Any:
        """The outlines-core automaton of a schema over this vocabulary (cached, LRU)."""
        try:
            from outlines_core import Index, Vocabulary
            from outlines_core.json_schema import build_regex_from_schema
        except ImportError:
            raise BackendUnavailable(
                "JSON-constrained decoding needs outlines-core: pip install outlines-core==0.2.14"
            ) from None
        try:
            regex = build_regex_from_schema(json.dumps(json_schema), WHITESPACE_PATTERN)
        except (ValueError, TypeError) as exc:
            raise InvalidRequestError(f"unsupported JSON schema: {exc}", param="response_format") from None
        if regex in self._indexes:
            self._indexes.move_to_end(regex)
            return self._indexes[regex]
        if self._vocabulary is None:
            by_bytes: dict[bytes, list[int]] = {}
            for token_id, raw in token_bytes(self.tokenizer).items():
                if raw and token_id != self.eos_token_id:
                    by_bytes.setdefault(raw, []).append(token_id)
            self._vocabulary = Vocabulary(self.eos_token_id, by_bytes)
        index = Index(regex, self._vocabulary)
        self._indexes[regex] = index
        if len(self._indexes) > _INDEX_CACHE_SIZE:
            self._indexes.popitem(last=False)
        return index

    def _generation_config(
        self, *, n: int, temperature: float, top_p: float, max_tokens: int, max_time: float | None
    ) -> Any:
        from transformers import GenerationConfig

        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 1e-5:
            sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
        return GenerationConfig(
            max_new_tokens=max_tokens,
            num_return_sequences=n,
            max_time=max_time,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.eos_token_id,
            bos_token_id=self.tokenizer.bos_token_id,
            **sampling,
        )

    def generate(
        self,
        conversations: Sequence[Sequence[Mapping[str, Any]]],
        *,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_tokens: int = 256,
        seed: int | None = None,
        json_schema: Mapping[str, Any] | None = None,
        max_time: float | None = None,
    ) -> list[list[Completion]]:
        """``n`` completions for each conversation (a list of ``{"role", "content"}`` dicts).

        All conversations run as one left-padded batch. ``temperature`` 0 is greedy. With
        ``json_schema`` the output is constrained to JSON that validates against it.
        ``max_time`` (seconds) stops the batch early, with ``finish_reason`` ``length``.
        """
        import torch
        from transformers import LogitsProcessorList

        if not conversations:
            return []
        prompts = [self.render(c) for c in conversations]
        config = self._generation_config(
            n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, max_time=max_time
        )
        with self._lock:
            batch = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
            batch = batch.to(self.device)
            width = batch["input_ids"].shape[1]
            processors = LogitsProcessorList()
            if json_schema is not None:
                index = self._index_for(json_schema)
                processors.append(_JsonLogitsProcessor(index, len(prompts) * n, width, self.eos_token_id))
            if seed is not None:  # torch's global generator: the lock keeps this call's draws together
                torch.manual_seed(seed)
            with torch.inference_mode():
                output = self.model.generate(**batch, generation_config=config, logits_processor=processors)
        prompt_lengths = batch["attention_mask"].sum(dim=1).tolist()
        generated = output[:, width:].tolist()
        return [
            [self._completion(generated[row * n + k], int(prompt_lengths[row])) for k in range(n)]
            for row in range(len(prompts))
        ]

    def _completion(self, ids: list[int], prompt_tokens: int) -> Completion:
        if self.eos_token_id in ids:
            end = ids.index(self.eos_token_id)
            text_ids, used, finish = ids[:end], end + 1, "stop"
        else:
            text_ids, used, finish = ids, len(ids), "length"
        text = self.tokenizer.decode(text_ids, skip_special_tokens=True)
        return Completion(
            text=text, prompt_tokens=prompt_tokens, completion_tokens=used, finish_reason=finish
        )

    def close(self) -> None:
        """Drop the weights (the object is unusable afterwards)."""
        with self._lock:
            self.model = None
            self._indexes.clear()


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
