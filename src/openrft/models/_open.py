"""One resolver from a model reference to a sampling backend, used by every command.

Accepted forms, tried in this order:

1. ``http://host:port/v1#MODEL`` (or ``https://``): ``MODEL`` at that OpenAI-compatible
   endpoint. The fragment keeps the URL and the model name in one command-line value, and
   model names with slashes (``Qwen/Qwen3-8B``) need no quoting.
2. A packaged model name (``smollm2-135m-instruct``), a checkpoint folder, a ``.gguf`` file
   or a LoRA adapter folder: run in this process on transformers.
3. Any other name, when ``OPENRFT_SAMPLING_BASE_URL`` is set: that model at that endpoint
   (a vLLM server serving ``Qwen/Qwen3-8B`` is named as it serves it).
4. A Hugging Face Hub id (``org/name`` or ``org/name@revision``): its snapshot in the Hub cache,
   downloaded when the network allows, run in this process.

Values that look like paths (``/…``, ``./…``, ``~/…``, ``*.gguf``) but do not exist are an
error, never sent to an endpoint.
"""

from __future__ import annotations

from pathlib import Path

from openrft.config import Settings
from openrft.errors import InvalidRequestError
from openrft.models._backend import LocalBackend, SamplingBackend
from openrft.models._hub import parse_hub_id
from openrft.models._remote import RemoteBackend
from openrft.models._resolve import PACKAGED_MODELS, resolve_model_path

_PATH_PREFIXES = ("/", "./", "../", "~")


def accepted_forms() -> str:
    """The model reference forms, for error messages and help texts."""
    packaged = ", ".join(sorted(PACKAGED_MODELS))
    return (
        f"a packaged model ({packaged}), a Hugging Face Hub id (org/name[@revision]), a checkpoint "
        "folder, a .gguf file, a LoRA adapter folder, an endpoint URL with the model after '#' "
        "(http://host:8000/v1#MODEL), or any model name served at OPENRFT_SAMPLING_BASE_URL when "
        "that is set"
    )


def open_backend(
    model: str,
    settings: Settings | None = None,
    *,
    device: str | None = None,
) -> SamplingBackend:
    """The backend that samples from ``model`` (see the module docstring for the forms).

    Args:
        model: the reference, e.g. ``smollm2-135m-instruct``, ``runs/ckpt-40``,
            ``http://gpu-box:8000/v1#Qwen/Qwen3-8B``.
        settings: cache folder and remote endpoint settings (default: from the environment).
        device: for the transformers backend (default ``cuda`` when available, else ``cpu``).

    Raises:
        InvalidRequestError: an unknown reference, naming the value and the accepted forms.
        BackendUnavailable: a packaged model whose package is missing, or a bad device.
    """
    settings = settings or Settings()
    value = model.strip()
    if not value:
        raise InvalidRequestError(f"the model is empty: use {accepted_forms()}", param="model")
    if value.startswith(("http://", "https://")):
        base_url, _, name = value.partition("#")
        if not name.strip():
            raise InvalidRequestError(
                f"model {value!r} names no model: put it after '#', e.g. {base_url}#MODEL", param="model"
            )
        return _remote(base_url, name.strip(), settings)
    path = Path(value).expanduser()
    if value.lower() in PACKAGED_MODELS or path.exists():
        return _local(value, settings, device=device)
    if value.startswith(_PATH_PREFIXES) or value.lower().endswith(".gguf"):
        raise InvalidRequestError(f"model {value!r}: no such file or folder", param="model")
    if settings.sampling_base_url:
        return _remote(settings.sampling_base_url, value, settings)
    if parse_hub_id(value) is not None:
        return _local(value, settings, device=device)
    raise InvalidRequestError(
        f"unknown model {value!r}: use {accepted_forms()}", param="model", code="model_not_found"
    )


def _remote(base_url: str, name: str, settings: Settings) -> RemoteBackend:
    return RemoteBackend(
        base_url,
        name,
        api_key=settings.sampling_api_key,
        concurrency=settings.sampling_concurrency,
        max_retries=settings.sampling_max_retries,
        timeout=settings.sampling_timeout,
    )


def _local(value: str, settings: Settings, *, device: str | None) -> SamplingBackend:
    from openrft.models._local import LocalChatModel

    path = resolve_model_path(value, settings.cache_dir)
    chat_model = LocalChatModel(path, device=device, cache_dir=settings.cache_dir, name=value)
    return LocalBackend(chat_model, name=value)
