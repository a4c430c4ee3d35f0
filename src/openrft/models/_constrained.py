"""JSON-schema constrained decoding for local transformers models, on ``outlines-core``.

**Why outlines-core** (pinned ``outlines-core==0.2.14``): among the libraries made for it, it
is the one that fits this project: a Rust library maintained by .txt (the Outlines authors)
and used by vLLM as a structured-output backend, with a cp311 manylinux wheel and *no*
dependencies at all, so it cannot touch torch 2.13.0+cpu. ``xgrammar`` 0.2.8 pulls ``triton``
(a GPU compiler) and ``apache-tvm-ffi``; ``lm-format-enforcer`` is pure Python and walks a
character trie every step.

**How**: outlines-core compiles the JSON schema to a regular expression and then to a
token-level automaton (an ``Index``) over the tokenizer's vocabulary; each decoding step asks
the automaton which tokens are allowed and masks the others, so the output matches the schema
whenever the model stops by itself (a ``length`` stop can still cut it short).
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from openrft.errors import BackendUnavailable, InvalidRequestError
from openrft.models._number_ranges import mark_bounded_numbers

if TYPE_CHECKING:
    import torch

WHITESPACE_PATTERN = ""
"""Whitespace allowed between JSON tokens: none. Compact JSON costs fewer tokens (SmolLM2 spells
the five-field object of the triage-vitals task in 41 compact, 51 with a space after each colon
and comma), and small models loop on newlines when they are allowed."""

_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")
_INDEX_CACHE_SIZE = 32


def _byte_level_decoder() -> dict[str, int]:
    """GPT-2's byte-to-unicode table, inverted: a byte-level BPE token's characters → bytes."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), 256)]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(char): byte for byte, char in zip(printable, chars, strict=True)}


def _decoder_types(tokenizer: Any) -> set[str]:
    """Types of the tokenizers-library decoder (``ByteLevel``, ``Metaspace``…), flattened."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return set()
    pending = [json.loads(backend.to_str()).get("decoder") or {}]
    types: set[str] = set()
    while pending:
        node = pending.pop()
        types.add(str(node.get("type")))
        pending.extend(node.get("decoders") or [])
    return types


def token_bytes(tokenizer: Any) -> dict[int, bytes]:
    """The exact bytes each ordinary token adds to the text; special tokens are left out."""
    kinds = _decoder_types(tokenizer)
    byte_level = _byte_level_decoder() if "ByteLevel" in kinds else None
    added = {i: tok for i, tok in tokenizer.added_tokens_decoder.items()}
    out: dict[int, bytes] = {}
    for token, token_id in tokenizer.get_vocab().items():
        if token_id in added:
            if not added[token_id].special:
                out[token_id] = added[token_id].content.encode()
            continue
        if byte_level is not None and all(ch in byte_level for ch in token):
            out[token_id] = bytes(byte_level[ch] for ch in token)
        elif (match := _BYTE_TOKEN.fullmatch(token)) and "ByteFallback" in kinds:
            out[token_id] = bytes([int(match.group(1), 16)])
        elif kinds:
            out[token_id] = token.replace("▁", " ").encode()
        else:  # a slow tokenizer: ask it
            out[token_id] = tokenizer.convert_tokens_to_string([token]).encode()
    return out


class JsonLogitsProcessor:
    """Masks every token that would leave the JSON schema's automaton, row by row.

    Rows that have emitted the end-of-sequence token only get that token (the padding that
    ``generate`` appends after it never reaches the automaton).
    """

    def __init__(self, index: Any, rows: int, prompt_width: int, eos_id: int):
        from outlines_core import Guide

        self._guides = [Guide(index) for _ in range(rows)]
        self._done = [False] * rows
        self._width = prompt_width
        self._eos = eos_id

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        rows, vocab = scores.shape
        words = (vocab + 31) // 32
        bitmask = torch.zeros((rows, words), dtype=torch.int32)
        fresh = input_ids.shape[1] == self._width
        for row, guide in enumerate(self._guides):
            if not fresh and not self._done[row]:
                token = int(input_ids[row, -1])
                if token == self._eos or not guide.accepts_tokens([token]):
                    self._done[row] = True
                else:
                    guide.advance(token, return_tokens=False)
            if not self._done[row] and not guide.is_finished():
                guide.write_mask_into(bitmask[row].data_ptr(), words, 4)
        shifts = torch.arange(32, dtype=torch.int32)
        allowed = ((bitmask.unsqueeze(-1) >> shifts) & 1).bool().view(rows, -1)[:, :vocab].clone()
        stuck = ~allowed.any(dim=1)
        allowed[stuck, self._eos] = True  # finished or dead end: only the end of the turn
        return scores.masked_fill(~allowed.to(scores.device), float("-inf"))


def schema_regex(json_schema: Mapping[str, Any]) -> str:
    """The regular expression that ``json_schema`` compiles to (also what vLLM is given).

    outlines-core ignores ``minimum`` and ``maximum``: each bounded number gets the regex of its
    exact range instead (:mod:`openrft.models._number_ranges`), so a sampled 1–20 field is never
    0 or 21.
    """
    try:
        from outlines_core.json_schema import build_regex_from_schema
    except ImportError:
        raise BackendUnavailable(
            "JSON-constrained decoding needs outlines-core: pip install outlines-core==0.2.14"
        ) from None
    ranges: dict[str, str] = {}
    marked = mark_bounded_numbers(json_schema, ranges)
    try:
        regex = str(build_regex_from_schema(json.dumps(marked), WHITESPACE_PATTERN))
    except (ValueError, TypeError) as exc:
        raise InvalidRequestError(f"unsupported JSON schema: {exc}", param="response_format") from None
    for marker, number in ranges.items():
        regex = regex.replace(f'"{marker}"', f"(?:{number})")
    return regex


class JsonIndexCache:
    """outlines-core automata of JSON schemas over one tokenizer's vocabulary (LRU, 32 schemas)."""

    def __init__(self, tokenizer: Any, eos_token_id: int):
        self._tokenizer = tokenizer
        self._eos = eos_token_id
        self._vocabulary: Any = None
        self._indexes: OrderedDict[str, Any] = OrderedDict()

    def index_for(self, json_schema: Mapping[str, Any]) -> Any:
        """The automaton for ``json_schema``; the vocabulary is built on first use."""
        return self.index_for_regex(schema_regex(json_schema))  # BackendUnavailable without outlines-core

    def index_for_regex(self, regex: str) -> Any:
        """The automaton for a regular expression over this tokenizer's vocabulary."""
        from outlines_core import Index, Vocabulary

        if regex in self._indexes:
            self._indexes.move_to_end(regex)
            return self._indexes[regex]
        if self._vocabulary is None:
            by_bytes: dict[bytes, list[int]] = {}
            for token_id, raw in token_bytes(self._tokenizer).items():
                if raw and token_id != self._eos:
                    by_bytes.setdefault(raw, []).append(token_id)
            self._vocabulary = Vocabulary(self._eos, by_bytes)
        try:
            index = Index(regex, self._vocabulary)
        except (ValueError, TypeError) as exc:
            raise InvalidRequestError(f"unsupported regular expression: {exc}", param="regex") from None
        self._indexes[regex] = index
        if len(self._indexes) > _INDEX_CACHE_SIZE:
            self._indexes.popitem(last=False)
        return index

    def clear(self) -> None:
        self._indexes.clear()
