"""Reasoning-token accounting: the part of a completion spent inside ``<think>…</think>``.

Reasoning models (Qwen3, DeepSeek-R1 and their distillations) write their chain of thought
between ``<think>`` and ``</think>`` before the answer; some chat templates open the
``<think>`` in the prompt, so the completion only holds the closing tag. OpenAI reports these
tokens as ``usage.completion_tokens_details.reasoning_tokens``; the text itself is kept as
generated (nothing is stripped here).

* Local backends have the generated token ids: :func:`count_reasoning_tokens` is exact.
* A remote endpoint that does not report the count gives text only:
  :func:`estimate_reasoning_tokens` splits ``completion_tokens`` by character share, an
  estimate (tokens per character vary within a text).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

THINK_START = "<think>"
THINK_END = "</think>"


def prompt_opens_thinking(prompt: str) -> bool:
    """True when a rendered prompt ends inside an open ``<think>`` (the template opened it)."""
    return prompt.rstrip().endswith(THINK_START)


def count_reasoning_tokens(
    ids: Sequence[int], decode: Callable[[Sequence[int]], str], *, opened: bool = False
) -> int:
    """Tokens of ``ids`` up to and including the one that completes ``</think>``.

    ``decode`` turns ids into text *with* special tokens (a tag may be one). Without a closing
    tag, every token is reasoning when the thought was opened (in the completion, or in the
    prompt: ``opened``) and none otherwise. Whether a prefix contains the closing tag only
    changes once, so a binary search needs about log2(len(ids)) decodes.
    """
    text = decode(ids)
    if THINK_END not in text:
        return len(ids) if opened or THINK_START in text else 0
    low, high = 1, len(ids)
    while low < high:
        middle = (low + high) // 2
        if THINK_END in decode(ids[:middle]):
            high = middle
        else:
            low = middle + 1
    return low


def estimate_reasoning_tokens(completion_tokens: int, text: str, reasoning_text: str | None = None) -> int:
    """``completion_tokens`` times the share of characters spent reasoning.

    ``reasoning_text`` is a reasoning part the server returned separately
    (``reasoning_content`` / ``reasoning``); otherwise the ``<think>`` part of ``text`` counts.
    """
    if completion_tokens <= 0:
        return 0
    if reasoning_text:
        thought, total = len(reasoning_text), len(reasoning_text) + len(text)
    elif THINK_END in text:
        thought, total = text.index(THINK_END) + len(THINK_END), len(text)
    elif THINK_START in text:  # cut off while thinking
        return completion_tokens
    else:
        return 0
    return min(completion_tokens, round(completion_tokens * thought / max(total, 1)))
