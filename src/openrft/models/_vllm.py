"""A client for a vLLM server's extensions: LoRA adapters loaded at run time, token-level completions.

vLLM runs as its **own server in its own environment** (``scripts/vllm-server-venv.sh``,
``docs/vllm.md``); openrft never imports it. What openrft needs beyond OpenAI's API:

* ``POST /v1/load_lora_adapter`` ``{"lora_name", "lora_path"}`` and ``/v1/unload_lora_adapter``
  ``{"lora_name"}`` (vLLM started with ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=1 --enable-lora``):
  each policy version of a LoRA job, and each ``ft:`` model, becomes an adapter on one base
  model. The adapter folder must be readable by the server at ``lora_path``;
* ``POST /v1/completions`` with the prompt as **token ids**, ``return_token_ids`` and
  ``logprobs``: rollouts need the exact tokens the policy sampled, not a re-tokenised text.
  A JSON-schema ``response_format`` goes out as vLLM's ``structured_outputs.regex`` (the
  regex openrft's own constrained decoding uses), so both servers decode the same language.

``openrft serve`` answers the same endpoints from its local backend, which is how CI
exercises this client for real without a GPU.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openrft.errors import BackendUnavailable, InvalidRequestError

if TYPE_CHECKING:
    import openai


@dataclass(frozen=True)
class TokenCompletion:
    """One sampled continuation of a token-id prompt."""

    token_ids: list[int]
    """Generated tokens, the end-of-sequence token included when the model stopped."""
    logprobs: list[float] | None
    """The server's log-probability of each of ``token_ids`` (``None`` when it sent none)."""
    finish_reason: str
    text: str


class VLLMServer:
    """A vLLM (or ``openrft serve``) endpoint, driven with the official ``openai`` client.

    Args:
        base_url: the API root, e.g. ``http://gpu-box:8000/v1``.
        api_key: the bearer token (default ``OPENAI_API_KEY``, else a placeholder).
        timeout: seconds per request; a rollout batch of long answers needs minutes.
        max_retries: retries on 429, 5xx and connection errors (the client's backoff).
    """

    def __init__(
        self, base_url: str, *, api_key: str | None = None, timeout: float = 600.0, max_retries: int = 3
    ):
        if not base_url.startswith(("http://", "https://")):
            raise InvalidRequestError(
                f"server URL {base_url!r} must start with http:// or https://", param="rollout_base_url"
            )
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self._client: openai.OpenAI | None = None

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                base_url=self.base_url,
                api_key=self.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
                timeout=self.timeout,
                max_retries=self.max_retries,
            )
        return self._client

    def _post(self, path: str, body: dict[str, Any]) -> None:
        import httpx
        import openai

        try:
            self.client.post(path, body=body, cast_to=httpx.Response)
        except openai.APIStatusError as exc:
            raise BackendUnavailable(
                f"{self.base_url}{path} answered HTTP {exc.status_code}: {_message(exc)}"
            ) from None
        except openai.APIConnectionError as exc:
            raise BackendUnavailable(f"{self.base_url}{path} cannot be reached: {exc}") from None

    def load_adapter(self, name: str, path: str | os.PathLike[str]) -> None:
        """Load the LoRA adapter folder ``path`` on the server under ``name``."""
        self._post("/load_lora_adapter", {"lora_name": name, "lora_path": str(path)})

    def unload_adapter(self, name: str) -> None:
        """Unload the adapter ``name`` from the server."""
        self._post("/unload_lora_adapter", {"lora_name": name})

    def models(self) -> list[str]:
        """The model and adapter names the server offers (``GET /v1/models``)."""
        import openai

        try:
            return [model.id for model in self.client.models.list()]
        except openai.APIError as exc:
            raise BackendUnavailable(f"{self.base_url}/models failed: {exc}") from None

    def complete_tokens(
        self,
        model: str,
        prompts: Sequence[Sequence[int]],
        *,
        n: int,
        temperature: float,
        top_p: float,
        max_tokens: int,
        seed: int | None = None,
        regex: str | None = None,
        logprobs: bool = True,
    ) -> list[list[TokenCompletion]]:
        """``n`` completions of each token-id prompt from ``model``, in one request."""
        import openai

        extra: dict[str, Any] = {"return_token_ids": True, "skip_special_tokens": True}
        if regex is not None:
            extra["structured_outputs"] = {"regex": regex}
        try:
            response = self.client.completions.create(
                model=model,
                prompt=[list(map(int, p)) for p in prompts],
                n=n,
                temperature=temperature,
                top_p=top_p,
                max_tokens=max_tokens,
                seed=seed,
                logprobs=0 if logprobs else None,
                extra_body=extra,
            )
        except openai.APIStatusError as exc:
            raise BackendUnavailable(
                f"{self.base_url}/completions (model {model!r}) answered HTTP {exc.status_code}: "
                f"{_message(exc)}"
            ) from None
        except openai.APIConnectionError as exc:
            raise BackendUnavailable(f"{self.base_url}/completions cannot be reached: {exc}") from None
        out: list[list[TokenCompletion]] = [[] for _ in prompts]
        for choice in sorted(response.choices, key=lambda c: c.index):
            token_ids = (choice.model_extra or {}).get("token_ids")
            if not isinstance(token_ids, list):
                raise BackendUnavailable(
                    f"{self.base_url}/completions returned no token_ids: the server must accept "
                    "return_token_ids (vLLM >= 0.10.2, or openrft serve)"
                )
            scores = choice.logprobs.token_logprobs if choice.logprobs is not None else None
            out[choice.index // n].append(
                TokenCompletion(
                    token_ids=[int(t) for t in token_ids],
                    logprobs=[float(x or 0.0) for x in scores] if scores is not None else None,
                    finish_reason=str(choice.finish_reason),
                    text=choice.text,
                )
            )
        if any(len(row) != n for row in out):
            raise BackendUnavailable(
                f"{self.base_url}/completions returned {len(response.choices)} choices for "
                f"{len(prompts)} prompts × n={n}"
            )
        return out

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _message(exc: Any) -> str:
    """The error text of a failed response: OpenAI's envelope, vLLM's, or the raw body."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    text = getattr(getattr(exc, "response", None), "text", "") or str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
