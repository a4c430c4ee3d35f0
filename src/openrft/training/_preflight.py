"""Preflight: before any GPU-hour is spent, does the grader pay for trivial exploits?

Each exploit is an answer that needs no skill: the empty answer, the prompt echoed back, a
very long answer, and every label at once (all the distinct ``reference_answer`` values,
which a grader that checks "contains" would accept). Each is graded on a sample of training
items; when any averages ``EXPLOIT_LIMIT`` or more, training would teach the exploit, and
the job refuses to start unless told otherwise (``allow_exploits``).
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Sequence
from typing import Any

from openrft.errors import InvalidRequestError
from openrft.graders import Grader, GraderRuntime, grade_batch_async

EXPLOIT_LIMIT = 0.5
SAMPLE_ITEMS = 32
LONG_ANSWER_WORDS = 2000


def _prompt_text(messages: Sequence[Any]) -> str:
    return "\n".join(str(m.get("content") or "") for m in messages)


def _long(text: str) -> str:
    """About ``LONG_ANSWER_WORDS`` words: the prompt's words repeated (or filler for an empty prompt)."""
    words = text.split() or ["answer"]
    return " ".join(words[i % len(words)] for i in range(LONG_ANSWER_WORDS))


def exploits(rows: Sequence[Any]) -> dict[str, list[str]]:
    """The exploit answers for each row, by exploit name."""
    labels = sorted({str(r.item["reference_answer"]) for r in rows if "reference_answer" in r.item})
    out = {
        "empty answer": ["" for _ in rows],
        "prompt echoed back": [_prompt_text(r.messages) for r in rows],
        "very long answer": [_long(_prompt_text(r.messages)) for r in rows],
    }
    if 1 < len(labels) <= 200:
        out["every label at once"] = [", ".join(labels) for _ in rows]
    return out


async def score_exploits(
    grader: Grader, rows: Sequence[Any], *, runtime: GraderRuntime | None = None
) -> dict[str, float]:
    """Mean reward of each exploit on (up to ``SAMPLE_ITEMS``) training rows."""
    sample = list(rows[:SAMPLE_ITEMS])
    scores = {}
    for name, answers in exploits(sample).items():
        responses = await grade_batch_async(
            grader, [(a, dict(r.item)) for a, r in zip(answers, sample, strict=True)], runtime=runtime
        )
        scores[name] = statistics.fmean(r.reward for r in responses)
    return scores


def check_exploits(scores: dict[str, float], *, allow: bool = False) -> list[str]:
    """Warnings for exploits at or above the limit; raises unless ``allow``."""
    bad = [f"{name} scores {value:.2f}" for name, value in scores.items() if value >= EXPLOIT_LIMIT]
    if bad and not allow:
        raise InvalidRequestError(
            "preflight: the grader rewards answers that need no skill ("
            + "; ".join(bad)
            + f", limit {EXPLOIT_LIMIT}); training would learn the exploit. Fix the grader, or "
            "override with hyperparameter allow_exploits=true",
            param="grader",
            code="grader_exploitable",
        )
    return bad


def run_preflight(grader: Grader, rows: Sequence[Any], *, allow: bool = False) -> dict[str, Any]:
    """Score the exploits and check them (synchronous wrapper for the CLI and jobs)."""
    scores = asyncio.run(score_exploits(grader, rows))
    return {"exploits": scores, "warnings": check_exploits(scores, allow=allow)}
