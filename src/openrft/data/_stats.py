"""Statistics of a dataset: prompt lengths, item fields, and how the reference answers spread.

Rules, so that a reader can check a warning by hand:

* percentiles use the **nearest-rank** method: ``p``-th percentile = the ``ceil(p/100 · n)``-th
  smallest length (always a length that occurs);
* prompt lengths are tokens of the prompt as the model sees it (its chat template, with the
  generation prompt, ``developer`` rendered as ``system`` as the evals and trainer do), or
  characters of the message contents when no tokenizer is given;
* a **skewed answer** warning fires when the most common ``reference_answer`` is on more than
  half of the rows that have one, or, with 2 to 20 distinct values (a label set), when it is
  on more than twice its uniform share ``1/k``. A model that always answers that value scores
  its share without learning anything, which an RFT run then reports as progress.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from openrft.data._dataset import RFTRow

ANSWER_FIELD = "reference_answer"
LABEL_SET_MAX = 20
"""At most this many distinct answers count as a label set for the uniform-share rule."""


@dataclass(frozen=True)
class LengthSummary:
    """Nearest-rank percentiles of prompt lengths, in ``unit``."""

    unit: str
    p50: int
    p90: int
    p99: int
    max: int
    mean: float


@dataclass(frozen=True)
class DatasetStats:
    """What :func:`compute_stats` found; ``to_dict`` gives the JSON form."""

    rows: int
    prompt_length: LengthSummary | None
    length_note: str | None
    """Why lengths are not in tokens, or which tokenizer counted them."""
    field_counts: dict[str, int]
    """Item field → rows that have it, most common first."""
    answer_field: str
    answer_rows: int
    """Rows that have ``answer_field``."""
    distinct_answers: int
    top_answers: list[tuple[str, int]]
    """Most common answers (non-strings as compact JSON) with their counts."""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["top_answers"] = [{"value": value, "count": count} for value, count in self.top_answers]
        return data


def nearest_rank(sorted_values: Sequence[int], percent: float) -> int:
    """The ``percent``-th percentile of an ascending, non-empty sequence (nearest-rank method)."""
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize_lengths(lengths: Sequence[int], unit: str) -> LengthSummary | None:
    if not lengths:
        return None
    ordered = sorted(lengths)
    return LengthSummary(
        unit=unit,
        p50=nearest_rank(ordered, 50),
        p90=nearest_rank(ordered, 90),
        p99=nearest_rank(ordered, 99),
        max=ordered[-1],
        mean=round(sum(ordered) / len(ordered), 1),
    )


def _as_template_roles(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    # The same mapping the evals and the trainer apply before a chat template sees the prompt.
    return [{**m, "role": "system"} if m.get("role") == "developer" else dict(m) for m in messages]


def _character_length(messages: Sequence[dict[str, Any]]) -> int:
    return sum(len(m.get("content") or "") for m in messages)


def token_lengths(rows: Sequence[RFTRow], tokenizer: Any) -> tuple[list[int], list[str]]:
    """Prompt tokens of each row through ``tokenizer``'s chat template; notes on rows it failed on."""
    texts: list[str] = []
    failed: list[int] = []
    for row in rows:
        try:
            texts.append(
                tokenizer.apply_chat_template(
                    _as_template_roles(row.messages), tokenize=False, add_generation_prompt=True
                )
            )
        except Exception:  # a template that rejects a role or a field: count the plain text instead
            failed.append(row.line)
            texts.append("\n".join(m.get("content") or "" for m in row.messages))
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    notes = []
    if failed:
        notes.append(
            f"the chat template failed on {len(failed)} row(s) (first: line {failed[0]}); "
            "their plain text was counted"
        )
    return [len(ids) for ids in encoded], notes


def _answer_key(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _skew_warning(counts: Counter[str], total: int, field_name: str) -> str | None:
    if total < 2 or not counts:
        return None
    (value, top), distinct = counts.most_common(1)[0], len(counts)
    share = top / total
    shown = value if len(value) <= 40 else value[:37] + "…"
    if share > 0.5:
        return (
            f"skewed {field_name}: {shown!r} is on {top} of {total} rows ({share:.0%}); "
            f"always answering it scores {share:.0%} without learning the task"
        )
    if 2 <= distinct <= LABEL_SET_MAX and share > 2 / distinct:
        return (
            f"skewed {field_name}: {shown!r} is on {share:.0%} of rows, {share * distinct:.1f}× its "
            f"uniform share (1/{distinct} = {1 / distinct:.0%}); rebalance the labels"
        )
    return None


def compute_stats(
    rows: Sequence[RFTRow],
    *,
    tokenizer: Any = None,
    tokenizer_name: str | None = None,
    answer_field: str = ANSWER_FIELD,
    top: int = 10,
) -> DatasetStats:
    """Statistics of ``rows`` (``dataset.rows``), with token lengths when a tokenizer is given.

    ``tokenizer`` is a transformers tokenizer with a chat template (the policy model's).
    """
    warnings: list[str] = []
    notes: list[str] = []
    if tokenizer is not None:
        lengths, notes = token_lengths(rows, tokenizer)
        unit = "tokens"
        notes.insert(0, f"tokens of {tokenizer_name or 'the given tokenizer'}, chat template applied")
        limit = getattr(tokenizer, "model_max_length", None)
        if isinstance(limit, int) and limit < 10**7 and lengths and max(lengths) > limit:
            over = sum(1 for n in lengths if n > limit)
            warnings.append(f"{over} prompt(s) are longer than the model's context ({limit} tokens)")
    else:
        lengths = [_character_length(r.messages) for r in rows]
        unit = "characters"
        notes.append("no tokenizer: lengths are characters of the message contents")
    fields: Counter[str] = Counter(key for row in rows for key in row.item)
    for name, present in fields.most_common():
        if present < len(rows):
            warnings.append(
                f"field {name!r} is missing from {len(rows) - present} of {len(rows)} rows; a grader "
                f"that reads {{{{item.{name}}}}} fails on them"
            )
    answers: Counter[str] = Counter(
        _answer_key(row.item[answer_field]) for row in rows if answer_field in row.item
    )
    answer_rows = sum(answers.values())
    skew = _skew_warning(answers, answer_rows, answer_field)
    if skew:
        warnings.append(skew)
    return DatasetStats(
        rows=len(rows),
        prompt_length=summarize_lengths(lengths, unit),
        length_note="; ".join(notes) or None,
        field_counts=dict(fields.most_common()),
        answer_field=answer_field,
        answer_rows=answer_rows,
        distinct_answers=len(answers),
        top_answers=answers.most_common(top),
        warnings=warnings,
    )
