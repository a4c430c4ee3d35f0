"""Preflight: before any training step, is there something to learn, and does the grader pay for tricks?

On a seeded sample of up to :data:`PREFLIGHT_ITEMS` training items:

1. **The base model** answers each prompt ``generations`` times (the GRPO group). The
   *learnable-prompt fraction* is the share of prompts whose answers got different rewards:
   GRPO learns only from those. Zero means training would stand still.
2. **Trivial exploits** are graded: the empty answer, the prompt echoed back, a very long
   answer (:data:`LONG_ANSWER_WORDS` words), and every label at once (the distinct
   ``reference_answer`` values joined, or a label_model grader's labels, when there are 2 to
   200; for object references, one object whose each field joins that field's values). A probe
   that cannot be made (references that are lists, too many labels) is listed in ``skipped``
   with the reason, and warned about.
3. **Honest answers** are graded too, where the data says what a correct answer is (each
   item's ``reference_answer``, else the grader's ``reference`` rendered for the item). An
   exploit is one the policy would learn when it earns at least :data:`HONEST_SHARE` of what
   honest answers earn (without honest answers: of the top of the score range): the job then
   refuses to start unless told to go on (``allow_exploits``; on the API a job warns and runs
   unless its ``preflight`` is ``fail``). An exploit that beats the base model's mean is a
   warning.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from openrft.errors import InvalidRequestError
from openrft.evals import make_criterion, run_eval
from openrft.graders import (
    Grader,
    GraderRuntime,
    TemplateVariableError,
    grade_batch_async,
    parse_grader,
    render,
)
from openrft.models import GenerationOptions, SamplingBackend

EXPLOIT_LIMIT = 0.5
"""The old bar (half the score range), kept in the report for comparison; no longer decides."""
HONEST_SHARE = 0.9
"""An exploit earning this share of what honest answers earn (above the range's bottom) is flagged."""
PREFLIGHT_ITEMS = 16
LONG_ANSWER_WORDS = 2000
MAX_LABELS = 200
_KINDS = {list: "lists", dict: "objects", type(None): "null"}
Progress = Callable[[str, int, int], None]
"""``on_progress(stage, done, total)``: ``exploits`` (exploits graded), then ``sampled`` and
``graded`` (the base model's answers)."""


def _prompt_text(messages: Sequence[Any]) -> str:
    return "\n".join(str(m.get("content") or "") for m in messages)


def _long(text: str) -> str:
    """About ``LONG_ANSWER_WORDS`` words: the prompt's words repeated (or filler for an empty prompt)."""
    words = text.split() or ["answer"]
    return " ".join(words[i % len(words)] for i in range(LONG_ANSWER_WORDS))


def _every_value_per_field(references: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    """One JSON object whose each field lists every value that field takes in the references."""
    values: dict[str, dict[str, Any]] = {}
    for reference in references:
        for key, value in reference.items():
            values.setdefault(key, {})[json.dumps(value, sort_keys=True)] = value
    answer: dict[str, Any] = {}
    for key, seen in values.items():
        if len(seen) > MAX_LABELS:
            return (
                None,
                f"field {key!r} of reference_answer takes {len(seen)} values (more than {MAX_LABELS})",
            )
        ordered = [seen[k] for k in sorted(seen)]
        answer[key] = ordered[0] if len(ordered) == 1 else ", ".join(map(str, ordered))
    if all(len(seen) < 2 for seen in values.values()):
        return None, None  # one answer for every item: nothing to join
    return json.dumps(answer, ensure_ascii=False), None


def every_label_answer(grader: Grader, rows: Sequence[Any]) -> tuple[str | None, str | None]:
    """The "every label at once" answer, and why there is none when references cannot be joined.

    Scalar ``reference_answer`` values are joined with commas (else a label_model's labels);
    object values give one object whose each field joins that field's values. ``(None, None)``:
    nothing to probe (no references, or a single label).
    """
    references = [r.item["reference_answer"] for r in rows if "reference_answer" in r.item]
    if references and all(isinstance(v, Mapping) for v in references):
        return _every_value_per_field(references)
    labels = {str(v) for v in references if isinstance(v, str | int | float | bool)}
    if references and not labels:
        kinds = sorted({_KINDS.get(type(v), type(v).__name__) for v in references})
        return (
            None,
            f"reference_answer values are {' and '.join(kinds)}: only strings, numbers or objects join",
        )
    if not labels:
        labels = grader.answer_labels()
    if len(labels) > MAX_LABELS:
        return None, f"{len(labels)} distinct labels (more than {MAX_LABELS})"
    return (", ".join(sorted(labels)) if len(labels) > 1 else None), None


def exploits(rows: Sequence[Any], every_label: str | None = None) -> dict[str, list[str]]:
    """The exploit answers for each row, by exploit name."""
    out = {
        "empty answer": ["" for _ in rows],
        "prompt echoed back": [_prompt_text(r.messages) for r in rows],
        "very long answer": [_long(_prompt_text(r.messages)) for r in rows],
    }
    if every_label is not None:
        out["every label at once"] = [every_label for _ in rows]
    return out


def honest_answers(grader: Grader, rows: Sequence[Any]) -> list[tuple[str, Any]]:
    """``(answer, row)`` for the rows whose correct answer the data gives (a row the grader's
    reference template cannot be rendered for gives none)."""
    template = grader.reference_template()
    out = []
    for row in rows:
        value = row.item.get("reference_answer")
        if value is not None:
            out.append((value if isinstance(value, str) else json.dumps(value), row))
        elif template is not None:
            try:
                out.append((render(template, sample={}, item=dict(row.item)), row))
            except TemplateVariableError:
                continue
    return out


async def score_honest(grader: Grader, rows: Sequence[Any], runtime: GraderRuntime | None) -> float | None:
    """Mean reward of the correct answers the data gives (None: it gives none)."""
    honest = honest_answers(grader, rows)
    if not honest:
        return None
    responses = await grade_batch_async(grader, [(a, dict(r.item)) for a, r in honest], runtime=runtime)
    return statistics.fmean(r.reward for r in responses)


def choose_items(rows: Sequence[Any], seed: int, k: int = PREFLIGHT_ITEMS) -> list[Any]:
    """A seeded sample of ``k`` rows (all of them when there are fewer), in file order."""
    picked = sorted(random.Random(seed).sample(range(len(rows)), min(k, len(rows))))
    return [rows[i] for i in picked]


async def score_exploits(
    grader: Grader,
    rows: Sequence[Any],
    *,
    every_label: str | None = None,
    runtime: GraderRuntime | None = None,
    on_progress: Progress | None = None,
) -> dict[str, float]:
    """Mean reward of each exploit on ``rows``."""
    scores: dict[str, float] = {}
    answers_by_exploit = exploits(rows, every_label)
    for name, answers in answers_by_exploit.items():
        if on_progress is not None:
            on_progress("exploits", len(scores), len(answers_by_exploit))
        pairs = [(a, dict(r.item)) for a, r in zip(answers, rows, strict=True)]
        responses = await grade_batch_async(grader, pairs, runtime=runtime)
        scores[name] = statistics.fmean(r.reward for r in responses)
    if on_progress is not None:
        on_progress("exploits", len(scores), len(answers_by_exploit))
    return scores


async def sample_base(
    backend: SamplingBackend,
    grader: Grader,
    rows: Sequence[Any],
    *,
    generations: int,
    options: GenerationOptions,
    runtime: GraderRuntime | None = None,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """The base model's rewards on ``rows`` with ``generations`` answers each, and what GRPO can use."""
    criterion = make_criterion(grader)
    result = await run_eval(
        backend,
        rows,
        [criterion],
        n_runs=generations,
        options=options,
        runtime=runtime,
        on_progress=on_progress,
    )
    by_item: dict[int, list[float]] = {}
    for r in result.records:
        by_item.setdefault(r.item_index, []).append(r.score)
    learnable = sum(len(set(v)) > 1 for v in by_item.values())
    n = max(1, len(result.records))
    return {
        "reward_mean": statistics.fmean(r.score for r in result.records),
        "learnable_fraction": learnable / max(1, len(by_item)),
        "learnable_prompts": learnable,
        "completion_tokens_mean": sum(r.completion_tokens for r in result.records) / n,
        "truncated_fraction": sum(r.finish_reason == "length" for r in result.records) / n,
        "errored_fraction": sum(r.errored for r in result.records) / n,
    }


def check_exploits(
    scores: dict[str, float],
    *,
    allow: bool = False,
    bounds: tuple[float, float] = (0.0, 1.0),
    base_mean: float | None = None,
    honest: float | None = None,
) -> tuple[list[str], list[str]]:
    """(flagged exploits, warnings); raises for a flagged exploit unless ``allow``.

    ``honest``: what correct answers earn; an exploit is flagged at :data:`HONEST_SHARE` of it
    (of the top of the range when unknown), and never at the bottom of the range.
    """
    low, high = bounds
    top = honest if honest is not None and honest > low else high
    bar = low + HONEST_SHARE * (top - low)
    flagged = [name for name, value in scores.items() if value > low and value >= bar]
    earned = f"honest answers earn {honest:.2f}" if honest is not None else f"the range tops at {high:g}"
    described = "; ".join(f"{name} scores {scores[name]:.2f}" for name in flagged)
    if flagged and not allow:
        raise InvalidRequestError(
            f"preflight: the grader rewards answers that need no skill ({described}; {earned}, limit "
            f"{HONEST_SHARE:.0%} of that); training would learn the exploit. Fix the grader, or let the "
            "job run with a warning (API: the job's preflight 'warn', the default; CLI: --allow-exploits)",
            param="grader",
            code="grader_exploitable",
        )
    warnings = [f"allowed although exploitable: {described}"] if flagged else []
    if base_mean is not None:
        warnings += [
            f"{name} ({value:.2f}) scores above the base model ({base_mean:.2f})"
            for name, value in scores.items()
            if name not in flagged and value > base_mean
        ]
    return flagged, warnings


def run_preflight(
    grader: Grader | Mapping[str, Any],
    rows: Sequence[Any],
    *,
    backend: SamplingBackend | None = None,
    generations: int = 8,
    options: GenerationOptions | None = None,
    allow: bool = False,
    runtime: GraderRuntime | None = None,
    items: int = PREFLIGHT_ITEMS,
    seed: int = 0,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """The preflight report (JSON-ready); without ``backend`` only the exploits are scored.

    Raises :class:`InvalidRequestError` (code ``grader_exploitable``) for an exploit at the
    limit unless ``allow``. ``on_progress`` hears how far it is (see :data:`Progress`).
    """
    started = time.perf_counter()
    grader = parse_grader(grader)
    sample = choose_items(rows, seed, items)
    bounds = grader.score_range() or (0.0, 1.0)
    report = on_progress or (lambda stage, done, total: None)
    every_label, unprobed = every_label_answer(grader, rows)
    skipped = {"every label at once": unprobed} if unprobed else {}

    async def both() -> tuple[dict[str, float], dict[str, Any] | None, float | None]:
        scores = await score_exploits(
            grader, sample, every_label=every_label, runtime=runtime, on_progress=report
        )
        honest = await score_honest(grader, sample, runtime)
        base = None
        if backend is not None:
            base = await sample_base(
                backend,
                grader,
                sample,
                generations=generations,
                options=options or GenerationOptions(),
                runtime=runtime,
                on_progress=report,
            )
        return scores, base, honest

    scores, base, honest = asyncio.run(both())
    flagged, warnings = check_exploits(
        scores, allow=allow, bounds=bounds, base_mean=base["reward_mean"] if base else None, honest=honest
    )
    warnings += [f"'{name}' not probed: {why}" for name, why in skipped.items()]
    if base is not None and base["errored_fraction"] > 0:
        warnings.append(f"grader errors on {base['errored_fraction']:.0%} of the base model's answers")
    if base is not None and base["learnable_prompts"] == 0:
        warnings.append(
            f"no prompt got different rewards across its {generations} answers: GRPO has nothing to "
            "learn from yet (raise compute_multiplier or temperature, or make the grader give partial credit)"
        )
    return {
        "items": len(sample),
        "generations": generations if backend is not None else 0,
        "score_range": list(bounds),
        "exploit_limit": EXPLOIT_LIMIT,
        "honest_share": HONEST_SHARE,
        "honest_reward_mean": honest,
        "exploits": scores,
        "flagged": flagged,
        "skipped": skipped,
        "base": base,
        "warnings": warnings,
        "seconds": time.perf_counter() - started,
    }
