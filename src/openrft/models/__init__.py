"""Local models: resolve a name or file to a checkpoint, load it, generate chat completions.

Importing this package is cheap: torch and transformers load when a model does.

>>> from openrft.models import LocalChatModel, resolve_model_path
>>> path = resolve_model_path("smollm2-135m-instruct", cache_dir)   # GGUF → cached checkpoint
>>> model = LocalChatModel(path)
>>> [[answer]] = model.generate([[{"role": "user", "content": "Hi"}]], max_tokens=16)
"""

from openrft.models._backend import Conversation, GenerationOptions, LocalBackend, SamplingBackend
from openrft.models._local import BatchingChatModel, Completion, LocalChatModel, token_bytes
from openrft.models._resolve import PACKAGED_MODELS, PackagedModel, convert_gguf, resolve_model_path

__all__ = [
    "PACKAGED_MODELS",
    "BatchingChatModel",
    "Completion",
    "Conversation",
    "GenerationOptions",
    "LocalBackend",
    "LocalChatModel",
    "PackagedModel",
    "SamplingBackend",
    "convert_gguf",
    "resolve_model_path",
    "token_bytes",
]
