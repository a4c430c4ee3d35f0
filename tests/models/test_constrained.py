"""Numeric bounds under ``response_format``: the regex admits exactly the numbers in range.

outlines-core ignores ``minimum`` and ``maximum``; ``schema_regex`` writes each bounded number's
own regular expression, so what a model samples under the schema is in range by construction.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openrft.errors import InvalidRequestError
from openrft.models import LocalChatModel, schema_regex


def _object(field: dict) -> dict:
    return {"type": "object", "properties": {"n": field}, "required": ["n"], "additionalProperties": False}


def _matcher(field: dict) -> re.Pattern[str]:
    return re.compile(schema_regex(_object(field)))


def _accepts(pattern: re.Pattern[str], number: str) -> bool:
    return pattern.fullmatch('{"n":' + number + "}") is not None


@pytest.mark.slow
def test_a_thousand_sampled_answers_under_a_1_to_20_field_are_all_in_range(tiny_model_dir: Path):
    # A random tiny model sampling at temperature 1 would write any digits: only the constraint
    # keeps the answers in range.
    schema = _object({"type": "integer", "minimum": 1, "maximum": 20})
    model = LocalChatModel(tiny_model_dir)
    chats = [[{"role": "user", "content": f"pick a number {k}"}] for k in range(10)]
    values: list[int] = []
    for seed in range(10):
        rows = model.generate(chats, n=10, temperature=1.0, max_tokens=16, seed=seed, json_schema=schema)
        for completion in (c for row in rows for c in row):
            assert completion.finish_reason == "stop", completion.text
            values.append(json.loads(completion.text)["n"])
    assert len(values) == 1000
    outside = [v for v in values if not 1 <= v <= 20]
    assert outside == []
    assert len(Counter(values)) >= 10  # the model did sample: many values, every one of them allowed


BOUNDED = [
    ({"type": "integer", "minimum": 1, "maximum": 20}, ["1", "9", "10", "19", "20"], ["0", "21", "99", "-1"]),
    (
        {"type": "integer", "minimum": 0, "maximum": 300},
        ["0", "7", "99", "299", "300"],
        ["301", "350", "1000"],
    ),
    ({"type": "integer", "minimum": -15, "maximum": 5}, ["-15", "-9", "0", "5"], ["-16", "-0", "6", "-100"]),
    ({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10}, ["1", "9"], ["0", "10"]),
    ({"type": "integer", "minimum": 0, "exclusiveMinimum": True, "maximum": 3}, ["1", "3"], ["0"]),
    ({"type": "integer", "minimum": 1.5, "maximum": 4.5}, ["2", "4"], ["1", "5"]),
    ({"type": "integer", "minimum": 18}, ["18", "99", "100", "123456"], ["17", "0", "-5"]),
    ({"type": "integer", "maximum": 5}, ["5", "0", "-1", "-123456"], ["6", "10"]),
    (
        {"type": "number", "minimum": 0, "maximum": 1},
        ["0", "0.5", "1", "1.0", "0.999"],
        ["1.01", "-0.1", "2"],
    ),
    (
        {"type": "number", "minimum": 35.5, "maximum": 42},
        ["35.5", "35.51", "36", "41.999", "42", "42.00"],
        ["35.49", "35", "42.001", "43"],
    ),
    (
        {"type": "number", "exclusiveMinimum": 0, "maximum": 0.25},
        ["0.1", "0.25", "0.0001"],
        ["0", "0.0", "0.26"],
    ),
    ({"type": "number", "minimum": -1, "exclusiveMaximum": 0}, ["-1", "-0.5", "-0.001"], ["0", "-0", "-1.5"]),
    ({"type": ["integer", "null"], "minimum": 1, "maximum": 3}, ["1", "3", "null"], ["0", "4"]),
]


@pytest.mark.parametrize(("field", "inside", "outside"), BOUNDED)
def test_bounded_numbers_admit_exactly_their_range(field, inside, outside):
    pattern = _matcher(field)
    for number in inside:
        assert _accepts(pattern, number), (field, number)
    for number in outside:
        assert not _accepts(pattern, number), (field, number)


def test_every_bounded_field_compiles_to_a_token_automaton():
    from openrft.models._constrained import JsonIndexCache
    from tests.tiny_models import build_tokenizer

    tokenizer = build_tokenizer("bytelevel")
    cache = JsonIndexCache(tokenizer, tokenizer.eos_token_id)
    for field, _, _ in BOUNDED:
        assert cache.index_for(_object(field)) is not None


def test_unbounded_numbers_are_left_as_outlines_writes_them():
    assert "[1-9][0-9]*" in schema_regex(_object({"type": "integer"}))
    assert "[eE]" in schema_regex(_object({"type": "number"}))


def test_an_empty_range_is_one_clear_error():
    with pytest.raises(InvalidRequestError, match="no integer satisfies") as caught:
        schema_regex(_object({"type": "integer", "minimum": 5, "maximum": 4}))
    assert caught.value.param == "response_format"
    with pytest.raises(InvalidRequestError, match="no number satisfies"):
        schema_regex(_object({"type": "number", "exclusiveMinimum": 1, "maximum": 1}))


def _bounds() -> st.SearchStrategy[tuple[Decimal | None, bool, Decimal | None, bool]]:
    value = st.one_of(
        st.none(),
        st.integers(-1200, 1200).map(Decimal),
        st.decimals(-50, 50, places=3, allow_nan=False, allow_infinity=False),
    )
    return st.tuples(value, st.booleans(), value, st.booleans()).filter(
        lambda b: b[0] is None or b[2] is None or b[0] < b[2]
    )


def _field(kind: str, low: Decimal | None, low_strict: bool, high: Decimal | None, high_strict: bool) -> dict:
    field: dict = {"type": kind}
    if low is not None:
        field["exclusiveMinimum" if low_strict else "minimum"] = float(low) if low % 1 else int(low)
    if high is not None:
        field["exclusiveMaximum" if high_strict else "maximum"] = float(high) if high % 1 else int(high)
    return field


def _inside(
    x: Decimal, low: Decimal | None, low_strict: bool, high: Decimal | None, high_strict: bool
) -> bool:
    above = low is None or (x > low if low_strict else x >= low)
    below = high is None or (x < high if high_strict else x <= high)
    return above and below


NEAR = [Decimal(s) for s in ("-1", "-0.001", "-0.0001", "0", "0.0001", "0.001", "1")]
NUMBERS = st.one_of(
    st.integers(-3000, 3000).map(str),
    st.decimals(-60, 60, places=4, allow_nan=False, allow_infinity=False).map(lambda d: format(d, "f")),
)


@settings(max_examples=200, deadline=None)
@given(
    bounds=_bounds(),
    candidates=st.lists(NUMBERS, min_size=20, max_size=20),
    kind=st.sampled_from(["integer", "number"]),
)
def test_the_regex_matches_a_number_exactly_when_it_is_in_range(bounds, candidates, kind):
    field = _field(kind, *bounds)
    bounds = tuple(Decimal(str(v)) if isinstance(v, float) else v for v in bounds)
    low, low_strict, high, high_strict = bounds
    if kind == "integer" and low is not None and high is not None:
        between = range(math.floor(low) - 1, math.ceil(high) + 2)
        if not any(_inside(Decimal(i), *bounds) for i in between):
            with pytest.raises(InvalidRequestError, match="no integer satisfies"):
                _matcher(field)
            return
    pattern = _matcher(field)
    near = [b + step for b in (low, high) if b is not None for step in NEAR]  # the edges matter most
    for text in [*candidates, *(format(x.normalize(), "f") for x in near)]:
        if text in ("-0", "-0.0000") or (kind == "integer" and "." in text):
            continue  # not written by the grammar whatever the bounds
        x = Decimal(text)
        canonical = text == "0" or not re.match(r"-?0[0-9]", text)
        if not canonical:
            continue
        expected = _inside(x, low, low_strict, high, high_strict)
        assert _accepts(pattern, text) == expected, (field, text)
