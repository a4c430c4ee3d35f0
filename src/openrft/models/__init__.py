"""Models: resolve a name, file or endpoint to a sampling backend; generate chat completions.

Importing this package is cheap: torch and transformers load when a model does. vLLM is never
imported: it runs as its own server (:class:`VLLMServer` drives its LoRA and token endpoints).

>>> from openrft.models import GenerationOptions, open_backend
>>> backend = open_backend("Qwen/Qwen2.5-0.5B-Instruct")  # or a packaged name, a folder, http://…/v1#MODEL
>>> [[answer]] = await backend.sample([[{"role": "user", "content": "Hi"}]],
...                                   options=GenerationOptions(max_tokens=16))

The lower layer stays public: :func:`resolve_model_path` turns a name or file into a folder,
:class:`LocalChatModel` generates from it (or wraps a model in memory: ``from_loaded``).
"""

from openrft.models._backend import Conversation, GenerationOptions, LocalBackend, LocalRun, SamplingBackend
from openrft.models._batching import BatchingBackend, BatchingChatModel
from openrft.models._constrained import schema_regex, token_bytes
from openrft.models._embeddings import (
    LOCAL_EMBEDDING_MODEL,
    Embedder,
    LocalEmbedder,
    RemoteEmbedder,
    local_model_dir,
    make_embedder,
)
from openrft.models._generation import Generation
from openrft.models._hub import HubId, parse_hub_id
from openrft.models._local import Completion, LocalChatModel, select_device
from openrft.models._open import accepted_forms, open_backend
from openrft.models._openai_client import OpenAIEndpoint
from openrft.models._reasoning import count_reasoning_tokens, estimate_reasoning_tokens
from openrft.models._remote import RemoteBackend
from openrft.models._resolve import PACKAGED_MODELS, PackagedModel, convert_gguf, resolve_model_path
from openrft.models._response_format import ResponseFormat, parse_response_format, parse_text_format
from openrft.models._scheduler import GenerationScheduler
from openrft.models._tools import ToolCall, check_tools, parse_tool_calls, render_prompt
from openrft.models._vllm import TokenCompletion, VLLMServer

__all__ = [
    "LOCAL_EMBEDDING_MODEL",
    "PACKAGED_MODELS",
    "BatchingBackend",
    "BatchingChatModel",
    "Completion",
    "Conversation",
    "Embedder",
    "Generation",
    "GenerationOptions",
    "GenerationScheduler",
    "HubId",
    "LocalBackend",
    "LocalChatModel",
    "LocalEmbedder",
    "LocalRun",
    "OpenAIEndpoint",
    "PackagedModel",
    "RemoteBackend",
    "RemoteEmbedder",
    "ResponseFormat",
    "SamplingBackend",
    "TokenCompletion",
    "ToolCall",
    "VLLMServer",
    "accepted_forms",
    "check_tools",
    "convert_gguf",
    "count_reasoning_tokens",
    "estimate_reasoning_tokens",
    "local_model_dir",
    "make_embedder",
    "open_backend",
    "parse_hub_id",
    "parse_response_format",
    "parse_text_format",
    "parse_tool_calls",
    "render_prompt",
    "resolve_model_path",
    "schema_regex",
    "select_device",
    "token_bytes",
]
