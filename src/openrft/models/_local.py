"""A local Hugging Face transformers chat model: batched generation, optionally JSON-constrained.

torch and transformers are imported inside this module's functions, so that importing
``openrft.models`` (or ``openrft.graders``) stays cheap. Constrained decoding lives in
``_constrained.py``, LoRA adapters in ``_lora.py``, reasoning-token counting in
``_reasoning.py``.

**Devices.** ``cuda`` when torch sees a GPU, else ``cpu`` (``CUDA_VISIBLE_DEVICES=`` forces
the CPU); weights in bf16 on a GPU and fp32 on the CPU, unless told otherwise.
"""

from __future__ import annotations

import copy
import json
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openrft.errors import BackendUnavailable, InvalidRequestError
from openrft.models._constrained import JsonIndexCache, JsonLogitsProcessor, schema_regex
from openrft.models._reasoning import count_reasoning_tokens, prompt_opens_thinking

if TYPE_CHECKING:
    import torch


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
    token_ids: tuple[int, ...] = ()
    """The generated token ids, the end-of-sequence token included when the model stopped."""
    logprobs: tuple[float, ...] | None = None
    """Log-probability of each of ``token_ids`` under the model (raw logits, before temperature and
    constraints, as vLLM reports them by default); only when asked for."""
    top_logprobs: tuple[tuple[tuple[int, float], ...], ...] | None = None
    """Per position, the ``(token id, log-probability)`` of the most likely tokens; when asked for."""


def select_device(device: str | None = None) -> str:
    """``device`` once checked; by default ``cuda`` when torch sees a GPU, else ``cpu``."""
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        raise InvalidRequestError(
            f"unknown device {device!r}: use cpu, cuda or cuda:N", param="device"
        ) from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise BackendUnavailable(
            f"device {device!r} was asked for, but torch {torch.__version__} sees no GPU"
        )
    return device


def select_dtype(dtype: str | None, device: str) -> torch.dtype:
    """``dtype`` by name; by default bf16 on a GPU and fp32 elsewhere."""
    import torch

    name = dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise InvalidRequestError(f"unknown dtype {dtype!r}: use float32, bfloat16 or float16", param="dtype")
    return value


@contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    """Eval mode for the duration, then every submodule's own ``training`` flag back."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


@contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Seeded draws on a fork of torch's generators: the caller's random state is left as it was."""
    if seed is None:
        yield
        return
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _chosen_logprobs(
    logits: Sequence[torch.Tensor], generated: torch.Tensor, top: int
) -> list[tuple[list[float], list[tuple[tuple[int, float], ...]]]]:
    """Per row: the log-probability of each generated token and the ``top`` most likely ones.

    ``logits`` are ``generate``'s raw per-step logits (``output_logits``), one ``(rows, vocab)``
    tensor per step.
    """
    import torch

    steps = torch.stack(list(logits), dim=1).float().log_softmax(dim=-1)  # rows, steps, vocab
    chosen = steps.gather(-1, generated[:, : steps.shape[1], None]).squeeze(-1).tolist()
    alternatives: list[list[tuple[tuple[int, float], ...]]] = [[] for _ in chosen]
    if top > 0:
        values, ids = steps.topk(min(top, steps.shape[-1]), dim=-1)
        for row, (row_values, row_ids) in enumerate(zip(values.tolist(), ids.tolist(), strict=True)):
            pairs = zip(row_ids, row_values, strict=True)
            alternatives[row] = [tuple(zip(i, v, strict=True)) for i, v in pairs]
    return list(zip(chosen, alternatives, strict=True))


class LocalChatModel:
    """A causal LM with a chat template, loaded from a checkpoint or LoRA adapter folder.

    :meth:`generate` is thread-safe: one generation runs at a time (asyncio callers run it
    in a worker thread). Use :func:`openrft.models.resolve_model_path` to get a folder from
    a packaged model name or a GGUF file, or :meth:`from_loaded` to wrap a model in memory.

    Args:
        path: a checkpoint folder (``config.json``) or a LoRA adapter folder
            (``adapter_config.json``; its base is resolved under ``cache_dir``, and the adapter
            is merged into the base weights: see ``_lora.py`` for why).
        device: ``cpu``, ``cuda``, ``cuda:N``; default ``cuda`` when available.
        dtype: a torch dtype name; default ``bfloat16`` on a GPU, ``float32`` on the CPU.
        cache_dir: where a packaged or GGUF adapter base is converted (default: settings).
        name: the name reported by backends (default: the folder's name).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        device: str | None = None,
        dtype: str | None = None,
        cache_dir: Path | None = None,
        name: str | None = None,
    ):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from openrft.models._lora import adapter_base, is_adapter, merge_adapter, tokenizer_folder

        path = Path(path)
        device = select_device(device)
        weights, tokenizer_dir = path, path
        if is_adapter(path):
            if cache_dir is None:
                from openrft.config import Settings

                cache_dir = Settings().cache_dir
            weights = adapter_base(path, Path(cache_dir))
            tokenizer_dir = tokenizer_folder(path, weights)
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
        tokenizer.padding_side = "left"
        _require_chat_template(tokenizer, path)
        model = AutoModelForCausalLM.from_pretrained(
            weights, dtype=select_dtype(dtype, device), local_files_only=True
        )
        if weights != path:
            model = merge_adapter(model, path)
        self._attach(model.to(device).eval(), tokenizer, path=path, name=name or path.name, owned=True)

    @classmethod
    def from_loaded(cls, model: Any, tokenizer: Any, *, name: str) -> LocalChatModel:
        """Wrap a transformers (or PEFT) model already in memory, e.g. the policy being trained.

        Nothing is copied or reloaded: generation sees the current weights. It runs in eval
        mode and then restores every submodule's ``training`` flag, and seeds a fork of
        torch's generators, so a training loop's state is left as it was. The tokenizer is
        only copied when it lacks a pad token (one is set on the copy).
        """
        self = cls.__new__(cls)
        _require_chat_template(tokenizer, name)
        path = Path(str(getattr(model, "name_or_path", "") or name))
        self._attach(model, tokenizer, path=path, name=name, owned=False)
        return self

    def _attach(self, model: Any, tokenizer: Any, *, path: Path, name: str, owned: bool) -> None:
        if tokenizer.pad_token_id is None:
            if not owned:
                tokenizer = copy.deepcopy(tokenizer)
            tokenizer.pad_token = tokenizer.eos_token
        self.path = path
        self.name = name
        self.model = model
        self.tokenizer = tokenizer
        self.device = str(next(model.parameters()).device)
        self._owned = owned
        self._lock = threading.Lock()
        self._json = JsonIndexCache(tokenizer, self.eos_token_id)

    @property
    def eos_token_id(self) -> int:
        return int(self.tokenizer.eos_token_id)

    def render(self, messages: Sequence[Mapping[str, Any]]) -> str:
        """The prompt text for one conversation, ending where the assistant's turn starts."""
        text = self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
        )
        return str(text)

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
            use_cache=True,  # a model being trained with gradient checkpointing has it off
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
        adapter: str | None = None,
        logprobs: int | None = None,
    ) -> list[list[Completion]]:
        """``n`` completions for each conversation (a list of ``{"role", "content"}`` dicts).

        All conversations run as one left-padded batch. ``temperature`` 0 is greedy. With
        ``json_schema`` the output is constrained to JSON that validates against it.
        ``max_time`` (seconds) stops the batch early, with ``finish_reason`` ``length``.
        ``adapter`` names a LoRA adapter loaded with :meth:`load_adapter` (``None``: the base
        weights). ``logprobs`` (0–20) adds each token's log-probability and that many alternatives.
        """
        if not conversations:
            return []
        prompts = [self.render(c) for c in conversations]
        ids = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        regex = schema_regex(json_schema) if json_schema is not None else None
        return self.generate_ids(
            ids,
            n=n,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            seed=seed,
            regex=regex,
            max_time=max_time,
            adapter=adapter,
            logprobs=logprobs,
            prompt_texts=prompts,
        )

    def generate_ids(
        self,
        prompt_ids: Sequence[Sequence[int]],
        *,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_tokens: int = 256,
        seed: int | None = None,
        regex: str | None = None,
        max_time: float | None = None,
        adapter: str | None = None,
        logprobs: int | None = None,
        prompt_texts: Sequence[str] | None = None,
    ) -> list[list[Completion]]:
        """``n`` completions for each prompt given as token ids (what ``/v1/completions`` takes).

        ``regex`` constrains the output to that regular expression (a JSON schema's, from
        :func:`schema_regex`, or any other). The other arguments are :meth:`generate`'s.
        """
        import torch
        from transformers import LogitsProcessorList

        if not prompt_ids:
            return []
        config = self._generation_config(
            n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, max_time=max_time
        )
        config.return_dict_in_generate = True
        config.output_logits = logprobs is not None
        with self._lock:
            batch = self.tokenizer.pad(
                {"input_ids": [list(map(int, row)) for row in prompt_ids]},
                padding=True,
                padding_side="left",
                return_tensors="pt",
            ).to(self.device)
            width = batch["input_ids"].shape[1]
            processors = LogitsProcessorList()
            if regex is not None:
                index = self._json.index_for_regex(regex)
                processors.append(JsonLogitsProcessor(index, len(prompt_ids) * n, width, self.eos_token_id))
            with _eval_mode(self.model), _seeded(seed), torch.inference_mode(), self._adapter(adapter):
                output = self.model.generate(**batch, generation_config=config, logits_processor=processors)
            generated = output.sequences[:, width:]
            chosen = _chosen_logprobs(output.logits, generated, logprobs) if logprobs is not None else None
        prompt_lengths = batch["attention_mask"].sum(dim=1).tolist()
        rows = generated.tolist()
        texts = prompt_texts or [""] * len(prompt_ids)
        return [
            [
                self._completion(
                    rows[row * n + k],
                    int(prompt_lengths[row]),
                    texts[row],
                    None if chosen is None else chosen[row * n + k],
                )
                for k in range(n)
            ]
            for row in range(len(prompt_ids))
        ]

    def _decode_with_special_tokens(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=False))

    def _completion(
        self,
        ids: list[int],
        prompt_tokens: int,
        prompt: str,
        scored: tuple[list[float], list[tuple[tuple[int, float], ...]]] | None,
    ) -> Completion:
        if self.eos_token_id in ids:
            end = ids.index(self.eos_token_id)
            text_ids, used, finish = ids[:end], end + 1, "stop"
        else:
            text_ids, used, finish = ids, len(ids), "length"
        text = self.tokenizer.decode(text_ids, skip_special_tokens=True)
        reasoning = count_reasoning_tokens(
            text_ids, self._decode_with_special_tokens, opened=prompt_opens_thinking(prompt)
        )
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=used,
            finish_reason=finish,
            reasoning_tokens=reasoning,
            token_ids=tuple(ids[:used]),
            logprobs=None if scored is None else tuple(scored[0][:used]),
            top_logprobs=None if scored is None or not scored[1] else tuple(scored[1][:used]),
        )

    # --- LoRA adapters served on this model's weights (multi-LoRA) ---

    def load_adapter(self, name: str, path: str | Path) -> None:
        """Load the LoRA adapter in ``path`` under ``name``; generation picks it with ``adapter=name``.

        The base weights stay shared: each adapter adds only its own small matrices.
        """
        from openrft.models._lora import attach_adapter

        with self._lock:
            self.model = attach_adapter(self.model, name, Path(path))

    def unload_adapter(self, name: str) -> None:
        """Drop the adapter ``name`` (loaded with :meth:`load_adapter`)."""
        from openrft.models._lora import detach_adapter

        with self._lock:
            self.model = detach_adapter(self.model, name)

    @property
    def adapters(self) -> list[str]:
        """Names of the loaded adapters."""
        config = getattr(self.model, "peft_config", None)
        return sorted(config) if isinstance(config, dict) else []

    @contextmanager
    def _adapter(self, name: str | None) -> Iterator[None]:
        """Generation with adapter ``name`` active, or with none (the base weights)."""
        if not self._serves_adapters:
            if name is not None:
                raise InvalidRequestError(f"no LoRA adapter {name!r} is loaded", param="model")
            yield
            return
        if name is None:
            with self.model.disable_adapter():
                yield
            return
        if name not in self.adapters:
            raise InvalidRequestError(f"no LoRA adapter {name!r} is loaded", param="model")
        self.model.set_adapter(name)
        yield

    @property
    def _serves_adapters(self) -> bool:
        return self._owned and bool(self.adapters)

    def close(self) -> None:
        """Drop the weights (the object is unusable afterwards; a wrapped model is only let go)."""
        with self._lock:
            self.model = None
            self._json.clear()


def _require_chat_template(tokenizer: Any, where: object) -> None:
    if not getattr(tokenizer, "chat_template", None):
        raise InvalidRequestError(f"{where} has no chat template", code="model_not_supported")


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
