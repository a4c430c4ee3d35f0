"""Rollouts sampled by a separate vLLM-compatible server, from the policy's latest LoRA version.

The field's practice (verl, ART, TRL's async GRPO with adapter-only sync) and ours: the
trainer never imports vLLM. After every optimizer step the main process saves the LoRA
adapter (a few MB) into ``OUT/policy/v<step>`` (written aside, fsynced, renamed into place),
and asks the server to load it under a versioned name (``<prefix>-v<step>``) through
``POST /v1/load_lora_adapter``. Step ``k``'s rollouts are then sampled from version ``k-1``:
the update is synchronous, so every rollout is on-policy. Version 0 is the adapter as the
trainer initialised it (LoRA's B matrices are zero, so it answers as the base model), and a
resumed job first publishes the version of the checkpoint it resumed from. Versioned names
matter: vLLM keys its prefix cache by adapter name, so reusing one name would serve stale
KV entries. Older versions are unloaded, keeping ``keep`` on the server (start vLLM with
``--max-loras`` at least ``keep``).

Rollouts go through ``POST /v1/completions`` with the prompts as token ids (the chat template
is applied here, with the trainer's tokenizer) and ``return_token_ids``, so the trainer scores
exactly the tokens the server sampled. A ``response_format`` schema is sent as
``structured_outputs.regex``, the regex the in-process constrained decoding uses.

**What must be shared.** The server reads the adapter folder at the path the trainer sends:
both must see ``OUT/policy`` at the same path (one machine, or a shared filesystem).

**Full-weight jobs** (``lora=false``) cannot be hot-swapped through this API: they sample in
the trainer as without a server, and the job says so in its events.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from openrft.models import RemoteBackend, SamplingBackend, VLLMServer
from openrft.training._checkpoints import publish
from openrft.training._reward import LOGPROBS_COLUMN, POLICY_COLUMN


class ServerRollouts(TrainerCallback):
    """TRL's ``rollout_func`` over a vLLM-compatible server, plus the callback that publishes versions.

    Args:
        server: the rollout server (its LoRA endpoints must be enabled).
        prefix: adapter names are ``<prefix>-v<step>``; unique per job on a shared server.
        policy_dir: where versions are written (``OUT/policy``); the server must read it.
        tokenizer: the trainer's tokenizer (chat template and pad token).
        temperature, top_p, max_tokens, seed: rollout sampling (the trainer's settings).
        regex: the ``response_format`` constraint as a regular expression, if any.
        keep: versions kept loaded on the server (older ones are unloaded and deleted).
        main: whether this process writes and publishes versions (rank 0).
    """

    def __init__(
        self,
        server: VLLMServer,
        *,
        prefix: str,
        policy_dir: Path,
        tokenizer: Any,
        temperature: float,
        top_p: float,
        max_tokens: int,
        seed: int | None,
        regex: str | None,
        keep: int = 2,
        main: bool = True,
    ):
        self.server = server
        self.prefix = prefix
        self.policy_dir = Path(policy_dir)
        self.tokenizer = tokenizer
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self.seed = seed
        self.regex = regex
        self.keep = max(1, keep)
        self.main = main
        self.version: int | None = None
        """The step whose policy the server samples now (``None`` before the first publish)."""
        self._calls = 0
        self._loaded: list[int] = []

    def name(self, version: int) -> str:
        return f"{self.prefix}-v{version}"

    # --- publishing versions ---
    def publish(self, model: Any, version: int) -> None:
        """Save the adapter of ``model`` as ``version`` and load it on the server (main process)."""
        if self.main:
            target = self.policy_dir / f"v{version}"
            if not target.is_dir():
                staging = self.policy_dir / f".staging-v{version}"
                shutil.rmtree(staging, ignore_errors=True)
                model.save_pretrained(staging)
                publish(staging, target)
            self.server.load_adapter(self.name(version), target.resolve())
            self._loaded.append(version)
            while len(self._loaded) > self.keep:
                old = self._loaded.pop(0)
                self.server.unload_adapter(self.name(old))
                shutil.rmtree(self.policy_dir / f"v{old}", ignore_errors=True)
        _wait_for_everyone()
        self.version = version

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.publish(model, state.global_step)  # a resumed job's weights are loaded by now

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.publish(model, state.global_step)

    # --- sampling ---
    def __call__(self, prompts: Sequence[Any], trainer: Any = None) -> dict[str, list[Any]]:
        """Completions for TRL's prompt slice (each prompt repeated once per completion of its group)."""
        if self.version is None:
            raise RuntimeError("no policy version was published before the first rollout")
        runs: list[list[Any]] = []  # [prompt, count] for each run of equal consecutive prompts
        for prompt in prompts:
            if runs and runs[-1][0] == prompt:
                runs[-1][1] += 1
            else:
                runs.append([prompt, 1])
        prompt_ids = [self._encode(prompt) for prompt, _ in runs]
        by_count: dict[int, list[int]] = {}
        for index, (_, count) in enumerate(runs):
            by_count.setdefault(count, []).append(index)
        sampled: dict[int, list[Any]] = {}
        model = self.name(self.version)
        # Seeded by the step, so a resumed job asks for the same samples as an uninterrupted one.
        step = trainer.state.global_step if trainer is not None else self._calls
        for count, indexes in by_count.items():
            rows = self.server.complete_tokens(
                model,
                [prompt_ids[i] for i in indexes],
                n=count,
                temperature=self.temperature,
                top_p=self.top_p,
                max_tokens=self.max_tokens,
                seed=None if self.seed is None else self.seed + 7919 * step + count,
                regex=self.regex,
            )
            sampled.update(zip(indexes, rows, strict=True))
        self._calls += 1
        out: dict[str, list[Any]] = {
            "prompt_ids": [],
            "completion_ids": [],
            "logprobs": [],
            POLICY_COLUMN: [],
            LOGPROBS_COLUMN: [],
        }
        for index, (_, count) in enumerate(runs):
            for completion in sampled[index][:count]:
                out["prompt_ids"].append(list(prompt_ids[index]))
                out["completion_ids"].append(completion.token_ids)
                scores = completion.logprobs or [0.0] * len(completion.token_ids)
                out["logprobs"].append(scores)
                out[POLICY_COLUMN].append(model)
                out[LOGPROBS_COLUMN].append(completion.logprobs)
        return out

    def policy_backend(self) -> SamplingBackend:
        """The current policy version on the server, for validation (chat completions)."""
        if self.version is None:
            raise RuntimeError("no policy version was published yet")
        server = self.server
        return RemoteBackend(
            server.base_url, self.name(self.version), api_key=server.api_key, timeout=server.timeout
        )

    def _encode(self, prompt: Any) -> list[int]:
        if isinstance(prompt, str):
            text = prompt
        else:
            text = self.tokenizer.apply_chat_template(
                [dict(m) for m in prompt], tokenize=False, add_generation_prompt=True
            )
        return list(self.tokenizer(str(text), add_special_tokens=False)["input_ids"])

    def close(self) -> None:
        self.server.close()


def _wait_for_everyone() -> None:
    """A barrier across ``accelerate launch`` processes (nothing in a single process)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        from accelerate import PartialState

        PartialState().wait_for_everyone()
