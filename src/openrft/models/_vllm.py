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

from openrft.errors import BackendUnavailable
from openrft.models._openai_client import OpenAIEndpoint

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
    """A vLLM (or ``openrft serve``) endpoint, called through an :class:`OpenAIEndpoint`.

    Args:
        base_url: the API root, e.g. ``http://gpu-box:8000/v1``.
        api_key: the bearer token (default ``OPENAI_API_KEY``, else a placeholder).
        timeout: seconds per request; a rollout batch of long answers needs minutes.
        max_retries: retries on 429, 5xx and connection errors (the client's backoff).
    """

    def __init__(
        self, base_url: str, *, api_key: str | None = None, timeout: float = 600.0, max_retries: int = 3
    ):
        self.endpoint = OpenAIEndpoint(
            base_url, api_key=api_key, timeout=timeout, max_retries=max_retries, param="rollout_base_url"
        )

    @property
    def base_url(self) -> str:
        return self.endpoint.base_url

    @property
    def api_key(self) -> str | None:
        return self.endpoint.api_key

    @property
    def timeout(self) -> float:
        return self.endpoint.timeout

    @property
    def client(self) -> openai.OpenAI:
        return self.endpoint.client()

    def _post(self, path: str, body: dict[str, Any]) -> None:
        import httpx
        import openai

        try:
            self.client.post(path, body=body, cast_to=httpx.Response)
        except openai.OpenAIError as exc:
            raise self.endpoint.failure(exc, f"{self.base_url}{path}") from None

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
        except openai.OpenAIError as exc:
            raise self.endpoint.failure(exc, f"{self.base_url}/models") from None

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
        except openai.OpenAIError as exc:
            raise self.endpoint.failure(exc, f"{self.base_url}/completions (model {model!r})") from None
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
        self.endpoint.close()
