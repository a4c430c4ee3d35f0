"""Dataset statistics on handcrafted rows: nearest-rank percentiles, field counts, skew warnings."""

from __future__ import annotations

import pytest

from openrft.data import RFTRow, compute_stats
from openrft.data._stats import nearest_rank


def rows_of(contents: list[str], answers: list[object] | None = None, **extra: object) -> list[RFTRow]:
    answers = answers if answers is not None else [None] * len(contents)
    return [
        RFTRow(
            line=i + 1,
            messages=[{"role": "user", "content": c}],
            item=({"reference_answer": a} if a is not None else {}) | dict(extra),
        )
        for i, (c, a) in enumerate(zip(contents, answers, strict=True))
    ]


def test_nearest_rank_percentiles():
    values = list(range(1, 11))
    assert [nearest_rank(values, p) for p in (1, 50, 90, 99, 100)] == [1, 5, 9, 10, 10]
    assert nearest_rank([7], 50) == 7


def test_character_lengths_fields_and_answers():
    contents = ["x" * n for n in (3, 1, 10, 2, 9, 4, 8, 5, 7, 6)]
    answers = ["A", "B", "A", {"k": 1}, "A", "C", "B", "A", "D", "A"]
    rows = rows_of(contents, answers, source="unit")
    rows[0].item["note"] = "only here"
    stats = compute_stats(rows)
    length = stats.prompt_length
    assert length is not None
    assert (length.unit, length.p50, length.p90, length.p99, length.max, length.mean) == (
        "characters",
        5,
        9,
        10,
        10,
        5.5,
    )
    assert "no tokenizer" in (stats.length_note or "")
    assert stats.field_counts == {"reference_answer": 10, "source": 10, "note": 1}
    assert (stats.answer_rows, stats.distinct_answers) == (10, 5)
    assert stats.top_answers == [("A", 5), ("B", 2), ('{"k":1}', 1), ("C", 1), ("D", 1)]
    assert stats.warnings == [
        "field 'note' is missing from 9 of 10 rows; a grader that reads {{item.note}} fails on them",
        "skewed reference_answer: 'A' is on 50% of rows, 2.5× its uniform share (1/5 = 20%); "
        "rebalance the labels",
    ]


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["yes"] * 6 + ["no"] * 4, "skewed reference_answer: 'yes' is on 6 of 10 rows (60%)"),
        (["yes"] * 5 + ["no"] * 5, None),  # half and half is balanced
        (["a"] * 5 + [str(i) for i in range(15)], "'a' is on 25% of rows, 4.0× its uniform share (1/16"),
        (["a", "a"] + [str(i) for i in range(30)], None),  # 31 distinct values: not a label set
        ([str(i) for i in range(10)], None),
    ],
)
def test_skew_rule(answers, expected):
    warnings = compute_stats(rows_of(["q"] * len(answers), answers)).warnings
    if expected is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and expected in warnings[0]


def test_rows_without_answers_and_no_rows():
    stats = compute_stats(rows_of(["q", "r"]))
    assert (stats.answer_rows, stats.distinct_answers, stats.top_answers) == (0, 0, [])
    empty = compute_stats([])
    assert (empty.rows, empty.prompt_length, empty.warnings) == (0, None, [])
    assert empty.to_dict()["top_answers"] == []


def test_token_lengths_use_the_chat_template(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = [
        RFTRow(1, [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "cat"}], {}),
        RFTRow(2, [{"role": "user", "content": "cat cat cat cat"}], {}),
    ]
    stats = compute_stats(rows, tokenizer=tokenizer, tokenizer_name="tiny")
    expected = []
    for row in rows:
        messages = [{**m, "role": "system"} if m["role"] == "developer" else m for m in row.messages]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        expected.append(len(tokenizer(text, add_special_tokens=False)["input_ids"]))
    assert stats.prompt_length is not None
    assert stats.prompt_length.unit == "tokens"
    assert (stats.prompt_length.p50, stats.prompt_length.max) == (min(expected), max(expected))
    assert stats.length_note == "tokens of tiny, chat template applied"
    assert expected[0] != expected[1]
