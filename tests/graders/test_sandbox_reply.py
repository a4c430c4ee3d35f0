"""The parent's check of a sandbox worker's reply frame: whatever the worker sends, a result comes back."""

from __future__ import annotations

from openrft.graders.sandbox._process import parse_reply


def test_a_time_past_floats_range_is_dropped_not_raised():
    # JSON decodes 10**400 to an int that float() and math.isfinite() refuse with OverflowError.
    result = parse_reply({"s": "ok", "v": 0.5, "t": 10**400})
    assert (result.status, result.value, result.seconds) == ("ok", 0.5, 0.0)


def test_only_plain_finite_numbers_are_scores():
    assert parse_reply({"s": "ok", "v": 1, "t": 0.25}).seconds == 0.25
    for value in (True, "1", None, 10**400, float("nan")):
        result = parse_reply({"s": "ok", "v": value})
        assert result.status == "invalid" and result.value == 0.0, value
