"""OpenAI's ``response_format``, read in one place: what output a request constrains decoding to.

Chat completions (and fine-tuning's ``method.reinforcement.response_format``, eval runs'
``sampling_params.response_format``) spell it ``{"type": "text" | "json_object" |
"json_schema", "json_schema": {"name", "schema", "strict"}}``; the Responses API spells the
same thing ``text.format = {"type": "json_schema", "name", "schema", "strict"}``. Both come
here and leave as a :class:`ResponseFormat`: the JSON schema the output must validate
against (``json_object`` is any object), and the regular expression local decoding and vLLM
use. ``text`` (the default) is no constraint. A malformed value is an
:class:`~openrft.errors.InvalidRequestError` naming the field, e.g. ``response_format.type``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from openrft.errors import InvalidRequestError

_TYPES = "text, json_object, json_schema"


@dataclass(frozen=True)
class ResponseFormat:
    """One output constraint: a JSON schema, or a regular expression given as is."""

    json_schema: Mapping[str, Any] | None = None
    """The schema the output validates against (``{"type": "object"}`` for ``json_object``)."""
    pattern: str | None = None
    """A regular expression the output matches, given as is (vLLM's ``structured_outputs.regex``)."""
    wire: Mapping[str, Any] = field(default_factory=dict)
    """The constraint in chat completions' ``response_format`` form, sent as is to remote endpoints."""

    @cached_property
    def regex(self) -> str:
        """The regular expression decoding is constrained to (the schema's, compiled once)."""
        if self.pattern is not None:
            return self.pattern
        from openrft.models._constrained import schema_regex

        return schema_regex(self.json_schema if self.json_schema is not None else {"type": "object"})


def parse_response_format(value: Any, param: str = "response_format") -> ResponseFormat | None:
    """Check a chat completions ``response_format``; None for no constraint (absent or ``text``).

    Args:
        value: the request's ``response_format`` as sent (a mapping, or None).
        param: where it sits in the request, named in errors
            (e.g. ``method.reinforcement.response_format``).

    Raises:
        InvalidRequestError: an unknown type or a ``json_schema`` without its schema object.
    """
    return _parse(value, type_param=f"{param}.type", schema_param=f"{param}.json_schema.schema")


def parse_text_format(text: Any, param: str = "text") -> ResponseFormat | None:
    """The Responses API's ``text`` (``{"format": {...}}``) as a :class:`ResponseFormat`.

    Its :attr:`~ResponseFormat.wire` is the same constraint in chat completions' form, which is
    what remote chat endpoints are sent.
    """
    fmt = text.get("format") if isinstance(text, Mapping) else None
    if fmt is None:
        return None
    if not isinstance(fmt, Mapping):
        raise InvalidRequestError(f"{param}.format: an object is required", param=f"{param}.format")
    value: Mapping[str, Any] = fmt
    if fmt.get("type") == "json_schema":
        spec = {k: v for k, v in fmt.items() if k != "type"}
        value = {"type": "json_schema", "json_schema": {"name": "output", **spec}}
    return _parse(value, type_param=f"{param}.format.type", schema_param=f"{param}.format.schema")


def response_format_problem(value: Any) -> str | None:
    """Why ``value`` is not a ``response_format`` openrft decodes under (the field inside it and
    what is wrong, e.g. ``type: 'xml' is not one of …``), or None when it is one."""
    try:
        _parse(value, type_param="type", schema_param="json_schema.schema")
    except InvalidRequestError as exc:
        return exc.message
    return None


def _parse(value: Any, *, type_param: str, schema_param: str) -> ResponseFormat | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        where = type_param.rpartition(".")[0] or "response_format"
        raise InvalidRequestError(f"{where}: an object is required, not {type(value).__name__}", param=where)
    kind = value.get("type", "text")
    if kind == "text":
        return None
    if kind == "json_object":
        return ResponseFormat(json_schema={"type": "object"}, wire=dict(value))
    if kind == "json_schema":
        spec = value.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        if not isinstance(schema, Mapping):
            raise InvalidRequestError(f"{schema_param}: a JSON schema object is required", param=schema_param)
        return ResponseFormat(json_schema=schema, wire=dict(value))
    raise InvalidRequestError(f"{type_param}: {kind!r} is not one of {_TYPES}", param=type_param)
