"""Regular expressions for the JSON numbers between a schema's bounds, exactly.

outlines-core compiles ``{"type": "integer", "minimum": 1, "maximum": 20}`` to any integer:
it ignores ``minimum`` and ``maximum``. :func:`mark_bounded_numbers` replaces each bounded
number in a schema with a string constant (a marker) and returns the regex of its range; the
caller swaps each marker in the compiled regex for that range, so constrained decoding can
only write numbers in range.

The regexes admit canonical JSON numbers (no leading zeros, no ``-0``) without an exponent:
every number in range can be written, and nothing else. Both spellings of exclusive bounds
are read: draft 6's numbers (``"exclusiveMinimum": 0``) and draft 4's booleans beside
``minimum`` / ``maximum``. A bound of unknown type is ignored, as outlines-core does.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from openrft.errors import InvalidRequestError

Bound = tuple[Decimal, bool] | None
"""A bound's value and whether it is exclusive; ``None``: unbounded on that side."""
_NOT_SCHEMAS = frozenset({"enum", "const", "default", "examples"})
"""Keys whose values are data, not schemas: left as they are."""


def _alternatives(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"


def _digit_class(low: str, high: str) -> str:
    return low if low == high else f"[{low}-{high}]"


def _repeat(count: int) -> str:
    return "" if count == 0 else "[0-9]" if count == 1 else f"[0-9]{{{count}}}"


def _same_length(low: str, high: str) -> list[str]:
    """Digit strings of one length from ``low`` to ``high`` (inclusive)."""
    if low == high:
        return [low]
    if len(low) == 1:
        return [_digit_class(low, high)]
    rest = len(low) - 1
    if low[0] == high[0]:
        return [low[0] + _alternatives(_same_length(low[1:], high[1:]))]
    parts = []
    low_whole, high_whole = low[1:] == "0" * rest, high[1:] == "9" * rest
    first = low[0] if low_whole else str(int(low[0]) + 1)
    last = high[0] if high_whole else str(int(high[0]) - 1)
    if not low_whole:
        parts.append(low[0] + _alternatives(_same_length(low[1:], "9" * rest)))
    if first <= last:
        parts.append(_digit_class(first, last) + _repeat(rest))
    if not high_whole:
        parts.append(high[0] + _alternatives(_same_length("0" * rest, high[1:])))
    return parts


def _naturals(low: int, high: int | None) -> str:
    """The integers from ``low`` ≥ 0 to ``high`` (``None``: no end), without leading zeros."""
    shortest = len(str(low))
    longest = shortest if high is None else len(str(high))
    parts: list[str] = []
    for length in range(shortest, longest + 1):
        start = low if length == shortest else 10 ** (length - 1)
        end = high if high is not None and length == longest else 10**length - 1
        parts += _same_length(str(start), str(end))
    if high is None:
        parts.append(f"[1-9][0-9]{{{shortest},}}")
    return _alternatives(parts)


def _fraction(
    low: str | None, high: str | None, low_strict: bool, high_strict: bool
) -> tuple[str | None, bool]:
    """The digits after the point whose value lies between ``0.low`` and ``0.high``.

    ``low`` / ``high`` are the bounds' digits (trailing zeros stripped), or ``None`` once an
    earlier digit has already cleared that bound. Returns the regex of the non-empty digit
    strings in range (``None``: none) and whether no fraction at all (the value 0) is in range.
    """
    empty = (low is None or (low == "" and not low_strict)) and (
        high is None or high != "" or not high_strict
    )
    if low is None and high is None:
        return "[0-9]+", True
    if low == "" and high is None:  # only zeros are left in the lower bound
        return ("0*[1-9][0-9]*" if low_strict else "[0-9]+"), empty
    if high == "" and low in (None, ""):  # the value must be 0
        return (None if high_strict or (low == "" and low_strict) else "0+"), empty
    groups: dict[tuple[str | None, str | None], list[str]] = {}
    for digit in "0123456789":
        next_low = next_high = None
        if low is not None:
            edge = low[:1] or "0"
            if digit < edge:
                continue
            next_low = low[1:] if digit == edge else None
        if high is not None:
            edge = high[:1] or "0"
            if digit > edge:
                continue
            next_high = high[1:] if digit == edge else None
        groups.setdefault((next_low, next_high), []).append(digit)
    parts = []
    for (next_low, next_high), digits in groups.items():
        tail, tail_empty = _fraction(next_low, next_high, low_strict, high_strict)
        if tail is None and not tail_empty:
            continue
        suffix = "" if tail is None else f"(?:{tail})?" if tail_empty else tail
        parts.append(_digit_class(digits[0], digits[-1]) + suffix)
    return (_alternatives(parts) if parts else None), empty


def _with_fraction(whole: str, fraction: tuple[str | None, bool]) -> str | None:
    digits, empty = fraction
    if digits is None:
        return whole if empty else None
    return whole + (rf"(?:\.{digits})?" if empty else rf"\.{digits}")


def _split(value: Decimal) -> tuple[int, str]:
    """A non-negative value's whole part and its fraction digits (trailing zeros stripped)."""
    whole = math.floor(value)
    fraction = format(value - whole, "f").partition(".")[2].rstrip("0")
    return whole, fraction


def _non_negative(low: tuple[Decimal, bool], high: Bound, integer: bool) -> str | None:
    """The regex of the numbers ≥ 0 in range (``None`` when there are none)."""
    (low_value, low_strict) = low
    if integer:
        first = math.floor(low_value) + (1 if low_strict or low_value % 1 else 0)
        last = None
        if high is not None:
            last = math.ceil(high[0]) - (1 if high[1] or high[0] % 1 else 0)
            if last < first:
                return None
        return _naturals(first, last)
    if high is not None and (high[0] < low_value or (high[0] == low_value and (high[1] or low_strict))):
        return None
    low_whole, low_digits = _split(low_value)
    if high is None:
        parts = [
            _with_fraction(str(low_whole), _fraction(low_digits, None, low_strict, False)),
            _with_fraction(_naturals(low_whole + 1, None), ("[0-9]+", True)),
        ]
    else:
        high_whole, high_digits = _split(high[0])
        if low_whole == high_whole:
            parts = [_with_fraction(str(low_whole), _fraction(low_digits, high_digits, low_strict, high[1]))]
        else:
            middle = _naturals(low_whole + 1, high_whole - 1) if high_whole - low_whole > 1 else None
            parts = [
                _with_fraction(str(low_whole), _fraction(low_digits, None, low_strict, False)),
                _with_fraction(middle, ("[0-9]+", True)) if middle else None,
                _with_fraction(str(high_whole), _fraction(None, high_digits, False, high[1])),
            ]
    kept = [p for p in parts if p is not None]
    return _alternatives(kept) if kept else None


def range_regex(low: Bound, high: Bound, *, integer: bool) -> str | None:
    """The regex of the JSON numbers (integers when ``integer``) between two bounds."""
    parts = []
    zero = Decimal(0)
    if low is None or low[0] < zero:  # negatives: "-" and a magnitude above 0
        magnitude_low = (-high[0], high[1]) if high is not None and high[0] < zero else (zero, True)
        magnitude_high = None if low is None else (-low[0], low[1])
        negative = _non_negative(magnitude_low, magnitude_high, integer)
        if negative is not None:
            parts.append("-" + negative)  # a single part or one group: "-" applies to all of it
    if high is None or high[0] > zero or (high[0] == zero and not high[1]):
        positive = _non_negative(low if low is not None and low[0] >= zero else (zero, False), high, integer)
        if positive is not None:
            parts.append(positive)
    return _alternatives(parts) if parts else None


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _bound(node: Mapping[str, Any], inclusive: str, exclusive: str, pick: Any) -> Bound:
    """The tighter of a node's inclusive and exclusive bound on one side (``pick``: max or min)."""
    candidates = []
    value = _number(node.get(inclusive))
    if value is not None:
        candidates.append((value, node.get(exclusive) is True))  # draft 4: a boolean beside it
    value = _number(node.get(exclusive))
    if value is not None:
        candidates.append((value, True))
    if not candidates:
        return None
    best = pick(c[0] for c in candidates)
    return (best, any(strict for v, strict in candidates if v == best))


def _bounded_regex(node: Mapping[str, Any]) -> str | None:
    low = _bound(node, "minimum", "exclusiveMinimum", max)
    high = _bound(node, "maximum", "exclusiveMaximum", min)
    if low is None and high is None:
        return None
    integer = node["type"] == "integer"
    regex = range_regex(low, high, integer=integer)
    if regex is None:
        kind = "integer" if integer else "number"
        raise InvalidRequestError(
            f"unsupported JSON schema: no {kind} satisfies the bounds of {dict(node)}",
            param="response_format",
        )
    return regex


def mark_bounded_numbers(schema: Any, ranges: dict[str, str]) -> Any:
    """``schema`` with each bounded integer or number replaced by a string constant (a marker).

    Each marker and the regex of its range are added to ``ranges``. A node whose ``type`` lists
    several types becomes an ``anyOf`` of one node per type first.
    """
    if isinstance(schema, list):
        return [mark_bounded_numbers(s, ranges) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    kinds = schema.get("type")
    if isinstance(kinds, list) and {"integer", "number"} & set(kinds) and len(kinds) > 1:
        rest = {k: v for k, v in schema.items() if k != "type"}
        return mark_bounded_numbers({"anyOf": [{**rest, "type": kind} for kind in kinds]}, ranges)
    if kinds in ("integer", "number") and "enum" not in schema and "const" not in schema:
        regex = _bounded_regex(schema)
        if regex is not None:
            marker = f"openrftnumber{secrets.token_hex(8)}"
            ranges[marker] = regex
            return {"const": marker}
    return {k: v if k in _NOT_SCHEMAS else mark_bounded_numbers(v, ranges) for k, v in schema.items()}
