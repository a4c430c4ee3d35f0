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
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openrft.errors import BackendUnavailable, InvalidRequestError
from openrft.models._constrained import JsonIndexCache, schema_regex
from openrft.models._generation import (
    Completion,
    Generation,
    Listener,
    Scored,
    check_context,
    eval_mode,
    record,
    seeded,
    slice_kwargs,
    start,
    tokens_left,
)
from openrft.models._reasoning import count_reasoning_tokens, prompt_opens_thinking
from openrft.models._tools import forced_tools, render_prompt, tool_format

if TYPE_CHECKING:
    import torch


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
        # PreTrainedModel.to is wrapped by functools.wraps, which typeshed types without binding self.
        model = model.to(device)  # type: ignore[arg-type]  # transformers stubs: see the line above
        self._attach(model.eval(), tokenizer, path=path, name=name or path.name, owned=True)

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
        self._bytes: dict[int, bytes] | None = None

    @property
    def eos_token_id(self) -> int:
        return int(self.tokenizer.eos_token_id)

    def render(
        self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None = None
    ) -> str:
        """The prompt text for one conversation, ending where the assistant's turn starts.

        ``tools`` (OpenAI function tools) are shown through the chat template; a template without
        tool support refuses them, and tool turns in the history, with a 400.
        """
        return render_prompt(self.tokenizer, messages, tools, model=self.name)

    def _generation_config(self, *, n: int, temperature: float, top_p: float, max_tokens: int) -> Any:
        from transformers import GenerationConfig

        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 1e-5:
            sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
        return GenerationConfig(
            max_new_tokens=max_tokens,
            num_return_sequences=n,
            use_cache=True,  # a model being trained with gradient checkpointing has it off
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.eos_token_id,
            bos_token_id=self.tokenizer.bos_token_id,
            **sampling,
        )

    def prepare(
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
        logit_bias: Mapping[int, float] | None = None,
        frequency_penalty: float = 0.0,
        presence_penalty: float = 0.0,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: Any = None,
        parallel_tool_calls: bool = True,
        listener: Listener | None = None,
    ) -> Generation:
        """The :class:`Generation` of :meth:`generate`'s arguments, to run here or on a scheduler.

        ``tools`` are OpenAI function tools (checked by the caller); ``tool_choice`` ``none``
        hides them, ``required`` or a named function forces a call by constrained decoding.
        """
        if tool_choice == "none":
            tools = None
        prompts = [self.render(c, tools) for c in conversations]
        ids = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        regex = schema_regex(json_schema) if json_schema is not None else None
        fmt = tool_format(self.tokenizer, self.name) if tools else None
        forced = forced_tools(tools, tool_choice) if tools else None
        if fmt is not None and forced:
            if regex is not None:
                raise InvalidRequestError(
                    "tool_choice: a forced tool call and a JSON response format cannot both apply",
                    param="tool_choice",
                )
            regex = fmt.regex(forced, parallel=parallel_tool_calls)
        return Generation(
            ids,
            n=n,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            seed=seed,
            regex=regex,
            adapter=adapter,
            logprobs=logprobs,
            logit_bias=logit_bias,
            frequency_penalty=frequency_penalty,
            presence_penalty=presence_penalty,
            max_time=max_time,
            listener=listener,
            prompt_texts=prompts,
            tool_format=fmt,
            tool_names=tuple(t["function"]["name"] for t in tools or ()),
        )

    def generate(
        self, conversations: Sequence[Sequence[Mapping[str, Any]]], **options: Any
    ) -> list[list[Completion]]:
        """``n`` completions for each conversation (a list of ``{"role", "content"}`` dicts).

        All conversations run as one left-padded batch. ``temperature`` 0 is greedy. With
        ``json_schema`` the output is constrained to JSON that validates against it.
        ``max_time`` (seconds) stops the batch early, with ``finish_reason`` ``length``.
        ``adapter`` names a LoRA adapter loaded with :meth:`load_adapter` (``None``: the base
        weights). ``logprobs`` (0–20) adds each token's log-probability and that many
        alternatives; ``logit_bias``, ``frequency_penalty`` and ``presence_penalty`` are
        OpenAI's; ``listener`` gets
        each ``(row, token id)`` as it is sampled. ``max_tokens`` is cut to the context the
        prompt leaves. See :meth:`prepare` for the keywords.
        """
        if not conversations:
            return []
        generation = self.prepare(conversations, **options)
        self.advance(generation)
        return generation.completions(self._completion)

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
        logit_bias: Mapping[int, float] | None = None,
        listener: Listener | None = None,
        prompt_texts: Sequence[str] | None = None,
    ) -> list[list[Completion]]:
        """``n`` completions for each prompt given as token ids (what ``/v1/completions`` takes).

        ``regex`` constrains the output to that regular expression (a JSON schema's, from
        :func:`schema_regex`, or any other). The other arguments are :meth:`generate`'s.
        """
        if not prompt_ids:
            return []
        generation = Generation(
            prompt_ids,
            n=n,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            seed=seed,
            regex=regex,
            adapter=adapter,
            logprobs=logprobs,
            logit_bias=logit_bias,
            max_time=max_time,
            listener=listener,
            prompt_texts=prompt_texts,
        )
        self.advance(generation)
        return generation.completions(self._completion)

    def token_pieces(self, ids: Sequence[int]) -> list[tuple[str, bytes]]:
        """Each token's text and exact bytes (what OpenAI's ``logprobs`` report per token)."""
        if self._bytes is None:
            from openrft.models._constrained import token_bytes

            self._bytes = token_bytes(self.tokenizer)
        out = []
        for token in ids:
            raw = self._bytes.get(int(token))
            if raw is None:  # a special token: its text
                text = str(self.tokenizer.decode([int(token)], skip_special_tokens=False))
                out.append((text, text.encode()))
            else:
                out.append((raw.decode("utf-8", errors="replace"), raw))
        return out

    def advance(
        self,
        generation: Generation,
        *,
        slice_seconds: float | None = None,
        others_waiting: Callable[[], bool] = lambda: False,
    ) -> None:
        """Run ``generation`` for one slice: until it is done, or ``slice_seconds`` have passed
        while ``others_waiting()``. Its KV cache is kept, so the next slice starts where this
        one ended (``openrft.models._generation`` explains the slices)."""
        import torch

        if generation.done:
            return
        with self._lock:
            if generation._tensors is None:
                check_context(generation, self.context_length, self.name)
                start(generation, self.tokenizer, self.device, self.eos_token_id, self._json.index_for_regex)
            config = self._generation_config(
                n=1,  # the batch holds the n rows of each prompt
                temperature=generation.temperature,
                top_p=generation.top_p,
                max_tokens=max(tokens_left(generation), 1),
            )
            config.return_dict_in_generate = True
            config.output_logits = generation.logprobs is not None
            kwargs = slice_kwargs(
                generation,
                eos=self.eos_token_id,
                slice_seconds=slice_seconds,
                others_waiting=others_waiting,
                streamer=True,
            )
            seed = None if generation.seed is None else generation.seed + generation.slices
            with (
                eval_mode(self.model),
                seeded(seed),
                torch.inference_mode(),
                self._adapter(generation.adapter),
            ):
                output = self.model.generate(**kwargs, generation_config=config)
            record(generation, output, self.eos_token_id)
            generation.slices += 1

    @property
    def context_length(self) -> int | None:
        """Positions the model reads (prompt and answer together), when its config says."""
        value = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        return int(value) if isinstance(value, int) and value > 0 else None

    def _decode_with_special_tokens(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=False))

    def _completion(
        self,
        ids: list[int],
        prompt_tokens: int,
        prompt: str,
        scored: Scored | None,
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
