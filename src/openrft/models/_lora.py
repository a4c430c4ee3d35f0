"""LoRA adapters: a folder with ``adapter_config.json`` runs as its base model plus the adapter.

The base is ``base_model_name_or_path`` from that file, resolved like any model reference
(a packaged name, a ``.gguf`` file or a checkpoint folder; a relative path is also tried
against the adapter folder). Adapters written by openrft's trainer name the checkpoint
folder they were trained on, so they resolve as they are.

**Merged at load.** For sampling, the adapter is folded into a private copy of the base
weights with PEFT's ``merge_and_unload`` (W + scale·B·A, once): generation then runs a plain
transformers model, at the base model's speed and through the same code path (constrained
decoding, batching) as any checkpoint. Keeping a ``PeftModel`` only pays off when adapters
are swapped or trained, which is the trainer's business (it wraps its live model with
:meth:`LocalChatModel.from_loaded` instead). In bf16 the merged weights are rounded once, so
logits can differ from an unmerged bf16 forward in the last bits; in fp32 they match.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openrft.errors import InvalidRequestError

ADAPTER_CONFIG = "adapter_config.json"


def is_adapter(path: Path) -> bool:
    """True for a folder holding a PEFT adapter (``adapter_config.json``)."""
    return path.is_dir() and (path / ADAPTER_CONFIG).is_file()


def adapter_base(adapter: Path, cache_dir: Path) -> Path:
    """The checkpoint folder of ``adapter``'s base model (a GGUF base is converted, once)."""
    from openrft.models._resolve import resolve_model_path

    config_path = adapter / ADAPTER_CONFIG
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidRequestError(f"{config_path} cannot be read: {exc}", param="model") from None
    base = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    if not isinstance(base, str) or not base:
        raise InvalidRequestError(
            f"{config_path} has no base_model_name_or_path; set it to a packaged model name, "
            "a checkpoint folder or a .gguf file",
            param="model",
        )
    candidates = [base] if Path(base).expanduser().is_absolute() else [base, str(adapter / base)]
    for candidate in candidates:
        if is_adapter(Path(candidate).expanduser()):
            raise InvalidRequestError(
                f"adapter {adapter}: its base {base!r} is another adapter; merge that one first",
                param="model",
            )
        try:
            return resolve_model_path(candidate, cache_dir)
        except InvalidRequestError:
            continue
    raise InvalidRequestError(
        f"adapter {adapter}: its base model {base!r} (base_model_name_or_path in {ADAPTER_CONFIG}) "
        "is not a packaged model name, a checkpoint folder or a .gguf file on this machine",
        param="model",
        code="model_not_found",
    )


def merge_adapter(base_model: Any, adapter: Path) -> Any:
    """``base_model`` (loaded, owned by the caller) with the adapter merged into its weights."""
    from peft import PeftModel

    try:
        peft_model = PeftModel.from_pretrained(base_model, str(adapter), is_trainable=False)
    except (ValueError, RuntimeError, KeyError, OSError) as exc:
        raise InvalidRequestError(
            f"cannot apply the adapter {adapter} to its base model: {exc}", param="model"
        ) from None
    return peft_model.merge_and_unload()


def tokenizer_folder(adapter: Path, base: Path) -> Path:
    """Where an adapter's tokenizer is: saved next to it (a trainer's output), else the base's."""
    return adapter if (adapter / "tokenizer_config.json").is_file() else base


def attach_adapter(model: Any, name: str, adapter: Path) -> Any:
    """``model`` with the adapter in ``adapter`` loaded beside any others, under ``name``.

    The first adapter wraps the plain transformers model in a ``PeftModel``; later ones are
    added to it. Loading a name twice is refused (vLLM does the same): a new policy version
    gets a new name.
    """
    from peft import PeftModel

    if not is_adapter(adapter):
        raise InvalidRequestError(
            f"{adapter} is not a LoRA adapter folder (no {ADAPTER_CONFIG})", param="lora_path"
        )
    try:
        if isinstance(model, PeftModel):
            if name in model.peft_config:
                raise InvalidRequestError(f"the LoRA adapter {name!r} is already loaded", param="lora_name")
            model.load_adapter(str(adapter), adapter_name=name, is_trainable=False)
            return model
        return PeftModel.from_pretrained(model, str(adapter), adapter_name=name, is_trainable=False).eval()
    except (ValueError, RuntimeError, KeyError, OSError) as exc:
        raise InvalidRequestError(
            f"cannot apply the adapter {adapter} to the base model: {exc}", param="lora_path"
        ) from None


def detach_adapter(model: Any, name: str) -> Any:
    """``model`` without the adapter ``name``; the plain base model once the last one leaves."""
    from peft import PeftModel

    if not isinstance(model, PeftModel) or name not in model.peft_config:
        raise InvalidRequestError(f"no LoRA adapter {name!r} is loaded", param="lora_name")
    if len(model.peft_config) == 1:
        return model.unload()  # removes the LoRA layers, leaving the shared base weights untouched
    if model.active_adapter == name:
        model.set_adapter(next(a for a in model.peft_config if a != name))
    model.delete_adapter(name)
    return model
