"""vLLM's offline ``LLM`` engine behind :class:`SamplingBackend` (extra ``openrft[vllm]``, CUDA only).

**Status: written, never executed.** No GPU was available while this module was written;
it follows vLLM 0.30's documented offline API (``LLM``, ``SamplingParams``,
``StructuredOutputsParams``, ``LoRARequest``, token-id prompts), and the tests cover only
its two guards (vLLM missing, no GPU). Run it on a GPU before relying on it. The tested way
to use vLLM today is ``vllm serve MODEL`` plus ``--model http://host:8000/v1#MODEL``
(:class:`RemoteBackend`).

Design: the chat template is applied with the model's own tokenizer and the prompts are
sent as token ids, so vLLM adds no second BOS; ``response_format`` JSON schemas become
``StructuredOutputsParams(json=…)`` (vLLM's default backend decides how); a LoRA adapter
folder runs as its base with ``enable_lora`` and one ``LoRARequest``.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openrft.errors import BackendUnavailable, InvalidRequestError
from openrft.models._backend import Conversation, GenerationOptions
from openrft.models._local import Completion
from openrft.models._lora import ADAPTER_CONFIG, adapter_base, is_adapter
from openrft.models._reasoning import count_reasoning_tokens, prompt_opens_thinking

VLLM_VERSION = "0.30.0"
_LORA_RANK_SLOTS = (8, 16, 32, 64, 128, 256)
"""``max_lora_rank`` values every recent vLLM accepts."""


def vllm_usable() -> bool:
    """True when vLLM is installed and torch sees a CUDA GPU (nothing heavy is imported)."""
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise BackendUnavailable(
            "vLLM is not installed: pip install 'openrft[vllm]' (vLLM needs a CUDA GPU); "
            "without it the transformers backend runs the same models",
            code="backend_not_installed",
        ) from None
    import torch

    if not torch.cuda.is_available():
        raise BackendUnavailable(
            "vLLM needs a CUDA GPU and torch sees none; use the transformers backend on this machine",
            code="backend_not_supported",
        )
    return vllm


class VLLMBackend:
    """A checkpoint (or LoRA adapter) folder served by vLLM in this process. Not executed here.

    Args:
        path: a checkpoint folder, or an adapter folder whose base resolves under ``cache_dir``.
        gpu_memory_utilization: share of GPU memory vLLM may take (weights + KV cache).
        max_model_len: context length cap (default: the model's).
        dtype: ``auto`` (the checkpoint's), ``bfloat16``, ``float16``.
        engine_args: anything else for ``vllm.LLM`` (``tensor_parallel_size``…).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = None,
        dtype: str = "auto",
        cache_dir: Path | None = None,
        name: str | None = None,
        **engine_args: Any,
    ):
        vllm = _import_vllm()
        path = Path(path)
        model_dir, self._lora = path, None
        if is_adapter(path):
            if cache_dir is None:
                from openrft.config import Settings

                cache_dir = Settings().cache_dir
            model_dir = adapter_base(path, Path(cache_dir))
            engine_args.update(enable_lora=True, max_lora_rank=_lora_rank_slot(path))
            from vllm.lora.request import LoRARequest

            self._lora = LoRARequest(path.name, 1, str(path))
        self._llm = vllm.LLM(
            model=str(model_dir),
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            dtype=dtype,
            **engine_args,
        )
        self._tokenizer = self._llm.get_tokenizer()
        self.name = name or path.name
        self._lock = threading.Lock()

    async def sample(
        self, conversations: Sequence[Conversation], *, n: int = 1, options: GenerationOptions
    ) -> list[list[Completion]]:
        return await asyncio.to_thread(self._generate, conversations, n, options)

    def _generate(
        self, conversations: Sequence[Conversation], n: int, options: GenerationOptions
    ) -> list[list[Completion]]:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        if not conversations:
            return []
        schema = options.json_schema
        params = SamplingParams(
            n=n,
            temperature=options.temperature,
            top_p=options.top_p,
            max_tokens=options.max_tokens,
            seed=options.seed,
            structured_outputs=None if schema is None else StructuredOutputsParams(json=dict(schema)),
        )
        prompts = [
            str(
                self._tokenizer.apply_chat_template(
                    [dict(m) for m in c], tokenize=False, add_generation_prompt=True
                )
            )
            for c in conversations
        ]
        prompt_ids = [list(self._tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
        with self._lock:
            results = self._llm.generate(
                [{"prompt_token_ids": ids} for ids in prompt_ids],
                params,
                use_tqdm=False,
                lora_request=self._lora,
            )
        return [
            [self._completion(output, len(ids), prompt) for output in result.outputs]
            for result, ids, prompt in zip(results, prompt_ids, prompts, strict=True)
        ]

    def _completion(self, output: Any, prompt_tokens: int, prompt: str) -> Completion:
        ids = list(output.token_ids)
        text_ids = ids[:-1] if ids and ids[-1] == self._tokenizer.eos_token_id else ids
        reasoning = count_reasoning_tokens(
            text_ids,
            lambda part: str(self._tokenizer.decode(list(part), skip_special_tokens=False)),
            opened=prompt_opens_thinking(prompt),
        )
        return Completion(
            text=output.text,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(ids),
            finish_reason=str(output.finish_reason or "stop"),
            reasoning_tokens=reasoning,
        )

    def close(self) -> None:
        """Drop the engine and give its GPU memory back."""
        import torch

        self._llm = None
        gc.collect()
        torch.cuda.empty_cache()


def _lora_rank_slot(adapter: Path) -> int:
    rank = json.loads((adapter / ADAPTER_CONFIG).read_text()).get("r", 8)
    for slot in _LORA_RANK_SLOTS:
        if int(rank) <= slot:
            return slot
    raise InvalidRequestError(
        f"adapter {adapter} has rank {rank}; vLLM serves ranks up to 256", param="model"
    )
