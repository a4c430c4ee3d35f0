"""``/v1/completions`` from token ids or text, on a local model or one of its LoRA adapters."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from openrft.errors import InvalidRequestError
from openrft.models import Completion, Generation, ResponseFormat, parse_response_format
from openrft.server.api._services.generation import Generator, caller_project
from openrft.server.api._services.serving import ServingModels, as_local
from openrft.server.api._types.chat import CompletionUsage
from openrft.server.api._types.completions import (
    COMPLETION_FINISH_REASON,
    CompletionChoice,
    CompletionLogprobs,
    CreateCompletionRequest,
    TextCompletion,
)
from openrft.store import now


def _constraint(request: CreateCompletionRequest) -> str | None:
    """The request's output constraint as a regular expression (vLLM's two spellings)."""
    given = request.structured_outputs
    if given is not None and given.regex is not None and given.json_ is not None:
        raise InvalidRequestError(
            "structured_outputs: give one of regex and json", param="structured_outputs"
        )
    if given is not None and given.regex is not None:
        fmt: ResponseFormat | None = ResponseFormat(pattern=given.regex)
    elif given is not None and given.json_ is not None:
        fmt = ResponseFormat(json_schema=given.json_)
    else:
        fmt = parse_response_format(request.response_format)
    return fmt.regex if fmt is not None else None


def _cut(text: str, stop: str | list[str] | None) -> tuple[str, bool]:
    for marker in [stop] if isinstance(stop, str) else stop or []:
        if marker and marker in text:
            return text[: text.index(marker)], True
    return text, False


class CompletionService:
    def __init__(self, serving: ServingModels, generator: Generator):
        self.serving = serving
        self.generator = generator

    async def complete(self, request: CreateCompletionRequest) -> TextCompletion:
        regex = _constraint(request)
        n = self.generator.n(request.n)
        max_tokens = self.generator.max_tokens(request.max_tokens, "max_tokens")
        async with self.serving.backend(request.model) as backend:
            local = as_local(backend)
            if local is None:
                raise InvalidRequestError(
                    f"model {request.model!r} is served elsewhere: /v1/completions needs a model "
                    "that runs in this server",
                    param="model",
                )
            model = local.backend.model
            prompts = self._prompt_ids(request, model.tokenizer)
            generation = Generation(
                prompts,
                n=n,
                temperature=1.0 if request.temperature is None else request.temperature,
                top_p=request.top_p or 1.0,
                max_tokens=max_tokens,
                seed=request.seed,
                regex=regex,
                adapter=local.adapter,
                logprobs=request.logprobs,
                max_time=self.generator.settings.max_generation_seconds,
            )
            async with local.backend.submit(generation, share=caller_project()) as run:
                rows: list[list[Completion]] = await run.result()
            choices = [
                self._choice(index * n + k, completion, prompt, request, model.tokenizer)
                for index, (prompt, row) in enumerate(zip(prompts, rows, strict=True))
                for k, completion in enumerate(row)
            ]
        generated = sum(c.completion_tokens for row in rows for c in row)
        prompt_tokens = sum(len(p) for p in prompts)
        return TextCompletion(
            id=f"cmpl-{secrets.token_hex(12)}",
            created=now(),
            model=request.model,
            choices=choices,
            usage=CompletionUsage(
                prompt_tokens=prompt_tokens,
                completion_tokens=generated,
                total_tokens=prompt_tokens + generated,
            ),
        )

    @staticmethod
    def _prompt_ids(request: CreateCompletionRequest, tokenizer: Any) -> list[list[int]]:
        prompt = request.prompt
        if isinstance(prompt, str):
            texts: list[str] | None = [prompt]
        elif all(isinstance(p, str) for p in prompt):
            texts = [str(p) for p in prompt]
        else:
            texts = None
        if texts is None:
            # Token ids, whose shape pydantic checked: one prompt (ints) or several (lists of ints).
            lists: Sequence[Any] = [prompt] if all(isinstance(p, int) for p in prompt) else prompt
            ids = [list(map(int, p)) for p in lists]
            vocab = len(tokenizer)
            for index, row in enumerate(ids):
                if not row:
                    raise InvalidRequestError(f"prompt[{index}] is empty", param="prompt")
                if max(row) >= vocab:
                    raise InvalidRequestError(
                        f"prompt[{index}] has token id {max(row)}, past the vocabulary ({vocab})",
                        param="prompt",
                    )
            return ids
        encoded = [tokenizer(t, add_special_tokens=request.add_special_tokens)["input_ids"] for t in texts]
        if any(not row for row in encoded):
            raise InvalidRequestError("prompt: an empty text has no tokens to continue", param="prompt")
        return [list(row) for row in encoded]

    @staticmethod
    def _choice(
        index: int,
        completion: Completion,
        prompt: Sequence[int],
        request: CreateCompletionRequest,
        tokenizer: Any,
    ) -> CompletionChoice:
        text, stopped = _cut(completion.text, request.stop)
        finish = "stop" if stopped else completion.finish_reason
        logprobs = None
        if completion.logprobs is not None:
            tokens = [tokenizer.decode([t]) for t in completion.token_ids]
            offsets, position = [], 0
            for token in tokens:
                offsets.append(position)
                position += len(token)
            top: list[dict[str, float] | None] | None = None
            if completion.top_logprobs is not None and request.logprobs:
                top = [{tokenizer.decode([t]): v for t, v in alts} for alts in completion.top_logprobs]
            logprobs = CompletionLogprobs(
                text_offset=offsets, token_logprobs=list(completion.logprobs), tokens=tokens, top_logprobs=top
            )
        return CompletionChoice(
            index=index,
            text=text,
            finish_reason=COMPLETION_FINISH_REASON.validate_python(finish),
            logprobs=logprobs,
            token_ids=list(completion.token_ids) if request.return_token_ids else None,
            prompt_token_ids=list(prompt) if request.return_token_ids else None,
        )
