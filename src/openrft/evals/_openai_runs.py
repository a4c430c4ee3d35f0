"""OpenAI Evals run semantics: data sources, prompt templating, criteria and run results.

An eval (``POST /v1/evals``) has a ``data_source_config`` and ``testing_criteria``; each run
names a ``data_source``:

* ``jsonl``: rows ``{"item": …, "sample": …}`` whose samples are graded as given;
* ``completions`` / ``responses``: ``input_messages`` (a template rendered with each row's
  ``item``, or an ``item_reference`` naming messages the item holds) are sampled from a model
  with ``sampling_params``, then graded.

Every row then has one verdict per criterion; :func:`run_outcome` turns the verdicts into the
run's ``result_counts``, ``per_testing_criteria_results``, ``per_model_usage`` and its output
items. Nothing here stores anything: the server's worker reads and writes the store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from openrft.errors import InvalidRequestError
from openrft.evals._criteria import Criterion
from openrft.evals._engine import run_eval
from openrft.evals._records import EvalRecord, ResultsFile
from openrft.graders import (
    GRADER_TYPES,
    GraderRuntime,
    RunGraderResponse,
    grade_batch_async,
    make_sample,
    render,
)
from openrft.models import (
    GenerationOptions,
    SamplingBackend,
    check_tools,
    parse_response_format,
    parse_text_format,
)

DATA_SOURCES = ("jsonl", "completions", "responses")
"""The run data sources this server runs."""


def _result_type(criterion: Mapping[str, Any]) -> Any:
    """The ``type`` of a criterion's entries in an output item's ``results`` (its grader type's)."""
    grader_type = GRADER_TYPES.get(str(criterion.get("type")))
    return grader_type.result_type if grader_type is not None else criterion.get("type")


SAMPLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "model": {"type": "string"},
        "choices": {"type": "array", "items": {"type": "object"}},
        "output_text": {"type": "string"},
        "output_json": {"type": "object"},
        "output_tools": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["model", "choices"],
}
"""The ``sample`` schema a ``custom`` config with ``include_sample_schema`` returns."""

ItemStatus = Literal["pass", "fail"]


@dataclass
class GradedItem:
    """One row's outcome: its sample (for the output item) and one verdict per criterion."""

    item: dict[str, Any]
    sample: dict[str, Any] | None
    scores: list[tuple[float, bool, bool]]
    """Per criterion, in the eval's order: (score, passed, errored)."""
    usage: tuple[int, int] = (0, 0)
    """(prompt tokens, completion tokens) spent sampling it."""
    judges: list[dict[str, Any] | None] = field(default_factory=list)
    """Per criterion: its model grader's exchange with the judge, else None."""

    @property
    def passed(self) -> bool:
        return all(p for _, p, _ in self.scores)

    @property
    def errored(self) -> bool:
        return any(e for _, _, e in self.scores)


@dataclass
class OutputItemOutcome:
    """What an output item says about one row (``datasource_item_id`` is its index)."""

    datasource_item_id: int
    status: ItemStatus
    datasource_item: dict[str, Any]
    results: list[dict[str, Any]]
    sample: dict[str, Any] | None


@dataclass
class RunOutcome:
    """A finished run's result fields and its output items."""

    result_counts: dict[str, int]
    per_testing_criteria_results: list[dict[str, Any]]
    per_model_usage: list[dict[str, Any]] | None
    output_items: list[OutputItemOutcome]

    def run_fields(self) -> dict[str, Any]:
        """The run's result fields, by their names on OpenAI's ``EvalRun``."""
        return {
            "result_counts": self.result_counts,
            "per_testing_criteria_results": self.per_testing_criteria_results,
            "per_model_usage": self.per_model_usage,
        }


def data_source_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A create-eval ``data_source_config`` in the form OpenAI returns (with ``schema``)."""
    kind = config.get("type")
    if kind == "custom":
        item_schema = config.get("item_schema")
        if not isinstance(item_schema, dict):
            raise InvalidRequestError(
                "data_source_config.item_schema: a JSON schema object is required",
                param="data_source_config.item_schema",
            )
        with_sample = bool(config.get("include_sample_schema", False))
        properties: dict[str, Any] = {"item": item_schema}
        if with_sample:
            properties["sample"] = SAMPLE_SCHEMA
        schema = {
            "type": "object",
            "properties": properties,
            "required": ["item", "sample"] if with_sample else ["item"],
        }
        return {"type": "custom", "schema": schema}
    if kind in ("logs", "stored_completions"):
        schema = {
            "type": "object",
            "properties": {"item": {"type": "object"}, "sample": {"type": "object"}},
            "required": ["item", "sample"],
        }
        return {"type": kind, "metadata": config.get("metadata"), "schema": schema}
    raise InvalidRequestError(
        f"data_source_config.type: {kind!r} is not one of custom, logs, stored_completions",
        param="data_source_config.type",
    )


def source_rows(source: Mapping[str, Any], read_file: Callable[[str], bytes]) -> list[dict[str, Any]]:
    """``[{"item": …, "sample": …}]`` from ``file_content`` or a JSONL file (bare items allowed).

    Args:
        source: the data source's ``source`` (``file_content`` or ``file_id``).
        read_file: a file id → its bytes.
    """
    if source.get("type") == "file_content":
        return [dict(r) for r in source.get("content") or []]
    rows = []
    for number, line in enumerate(read_file(str(source.get("id"))).decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidRequestError(
                f"data_source.source line {number}: invalid JSON ({exc.msg})", param="data_source.source"
            ) from None
        if not isinstance(value, dict):
            raise InvalidRequestError(
                f"data_source.source line {number}: not a JSON object", param="data_source.source"
            )
        rows.append(value if isinstance(value.get("item"), dict) else {"item": value})
    return rows


def criteria_of(testing_criteria: Sequence[Mapping[str, Any]]) -> list[Criterion]:
    """An eval's stored ``testing_criteria`` (each with its ``id``) as criteria to grade with."""
    return [
        Criterion(
            str(c["name"]),
            {k: v for k, v in c.items() if k not in ("id", "pass_threshold")},
            c.get("pass_threshold"),
        )
        for c in testing_criteria
    ]


def _message_text(content: Any, item: dict[str, Any]) -> str:
    if isinstance(content, Mapping):
        content = [content]
    if isinstance(content, list):
        content = "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return render(str(content or ""), sample={}, item=item)


def prompt_for(input_messages: Mapping[str, Any], item: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages to sample from for one item: a rendered template, or messages the item holds."""
    if input_messages.get("type") == "item_reference":
        path = str(input_messages.get("item_reference", "")).removeprefix("item.")
        value: Any = item
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str):
            return [{"role": "user", "content": value}]
        if not isinstance(value, list):
            raise InvalidRequestError(
                f"input_messages.item_reference: item.{path} holds no messages",
                param="data_source.input_messages",
            )
        return [
            {"role": m.get("role", "user"), "content": _message_text(m.get("content"), {})} for m in value
        ]
    messages = []
    for entry in input_messages.get("template") or []:
        role = entry.get("role", "user")
        messages.append(
            {
                "role": "system" if role == "developer" else role,
                "content": _message_text(entry.get("content"), item),
            }
        )
    return messages


def sampling_options(data_source: Mapping[str, Any]) -> GenerationOptions:
    """A sampling data source's ``sampling_params`` (chat or responses form) as generation options."""
    params = data_source.get("sampling_params") or {}
    where = "data_source.sampling_params"
    fmt = parse_text_format(params.get("text"), f"{where}.text") if params.get("text") else None
    fmt = fmt or parse_response_format(params.get("response_format"), f"{where}.response_format")
    return GenerationOptions(
        temperature=float(params.get("temperature", 1.0)),
        top_p=float(params.get("top_p", 1.0)) or 1.0,
        max_tokens=int(params.get("max_completion_tokens") or params.get("max_completions_tokens") or 512),
        seed=params.get("seed", 42),
        response_format=fmt.wire if fmt is not None else None,
        tools=_tools(params.get("tools")),
        tool_choice=_tool_choice(params.get("tool_choice")),
        parallel_tool_calls=params.get("parallel_tool_calls") is not False,
    )


def _tools(value: Any) -> list[dict[str, Any]] | None:
    """``sampling_params.tools`` in chat's nested form (the responses form is flat), checked."""
    if not value:
        return None
    nested = [
        {"type": "function", "function": {k: v for k, v in t.items() if k != "type"}}
        if isinstance(t, Mapping) and t.get("type") == "function" and "function" not in t
        else t
        for t in value
    ]
    return check_tools(nested, "data_source.sampling_params.tools")


def _tool_choice(value: Any) -> Any:
    if isinstance(value, Mapping) and value.get("type") == "function" and "function" not in value:
        return {"type": "function", "function": {"name": value.get("name")}}
    return value


def _given_sample(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return make_sample(value)
    if isinstance(value, Mapping):
        return {**make_sample(str(value.get("output_text", ""))), **value}
    return make_sample("")


async def grade_given_samples(
    rows: list[dict[str, Any]], criteria: list[Criterion], runtime: GraderRuntime
) -> list[GradedItem]:
    """A ``jsonl`` run: grade each row's ``sample`` as given."""
    pairs = [(_given_sample(r.get("sample")), r["item"]) for r in rows]
    per_criterion: list[list[RunGraderResponse]] = [
        await grade_batch_async(c.grader, pairs, runtime=runtime) for c in criteria
    ]
    return [
        GradedItem(
            item=row["item"],
            sample=row.get("sample")
            if isinstance(row.get("sample"), dict)
            else {"output_text": row.get("sample")},
            scores=[
                (r[i].reward, c.passed(r[i].reward), bool(r[i].errors.raised()))
                for c, r in zip(criteria, per_criterion, strict=True)
            ],
            judges=[r[i].details.get("sample") for r in per_criterion],
        )
        for i, row in enumerate(rows)
    ]


@dataclass
class _Prompt:
    line: int
    messages: list[dict[str, Any]]
    item: dict[str, Any]


async def sample_and_grade(
    backend: SamplingBackend,
    rows: list[dict[str, Any]],
    data_source: Mapping[str, Any],
    criteria: list[Criterion],
    *,
    runtime: GraderRuntime,
    model: str,
    results_dir: Path,
    run_id: str,
) -> list[GradedItem]:
    """A ``completions``/``responses`` run: sample ``model`` on each row's prompt, then grade.

    The answers go to ``results_dir``'s results file as they come, so a restarted run continues.
    """
    prompts = [
        _Prompt(i + 1, prompt_for(data_source["input_messages"], r["item"]), r["item"])
        for i, r in enumerate(rows)
    ]
    options = sampling_options(data_source)
    with ResultsFile(results_dir, {"run": run_id}) as results:
        outcome = await run_eval(
            backend, prompts, criteria, options=options, store=results, runtime=runtime, model_name=model
        )
    return [
        graded_answer(record, prompt.item, prompt.messages, criteria, model, options)
        for record, prompt in zip(outcome.records, prompts, strict=True)
    ]


def graded_answer(
    record: EvalRecord,
    item: dict[str, Any],
    messages: Sequence[Mapping[str, Any]],
    criteria: Sequence[Criterion],
    model: str,
    options: GenerationOptions,
) -> GradedItem:
    """One sampled answer (an evals-engine record) as an output item's sample and verdicts."""
    sample = {
        "input": [{"role": m["role"], "content": m["content"]} for m in messages],
        "output": [_output_message(record)],
        "finish_reason": record.finish_reason,
        "model": model,
        "usage": {
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": record.completion_tokens,
            "total_tokens": record.prompt_tokens + record.completion_tokens,
            "cached_tokens": 0,
        },
        "error": {"code": "", "message": ""},
        "temperature": options.temperature,
        "max_completion_tokens": options.max_tokens,
        "top_p": options.top_p,
        "seed": options.seed,
    }
    scores = [
        (record.scores[c.name], record.passed[c.name], bool(record.errors.get(c.name))) for c in criteria
    ]
    judges = [record.judge_samples.get(c.name) for c in criteria]
    return GradedItem(item, sample, scores, (record.prompt_tokens, record.completion_tokens), judges)


def _output_message(record: EvalRecord) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": record.output}
    if record.output_tools:
        message["tool_calls"] = record.output_tools
    return message


def _usage(model: str | None, graded: Sequence[GradedItem]) -> list[dict[str, Any]] | None:
    if not model:
        return None
    prompt = sum(g.usage[0] for g in graded)
    completion = sum(g.usage[1] for g in graded)
    return [
        {
            "model_name": model,
            "invocation_count": len(graded),
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "cached_tokens": 0,
        }
    ]


def run_outcome(
    testing_criteria: Sequence[Mapping[str, Any]], graded: Sequence[GradedItem], model: str | None
) -> RunOutcome:
    """Tally a run's verdicts: counts, per-criterion passes, usage, and one output item per row.

    A row with an errored criterion counts as ``errored`` and its item as ``fail``.
    """
    counts = {"total": len(graded), "errored": 0, "failed": 0, "passed": 0}
    per_criterion = [{"testing_criteria": c["id"], "passed": 0, "failed": 0} for c in testing_criteria]
    items = []
    result_types = [_result_type(c) for c in testing_criteria]
    for index, outcome in enumerate(graded):
        counts["errored" if outcome.errored else "passed" if outcome.passed else "failed"] += 1
        for tally, (_, ok, _) in zip(per_criterion, outcome.scores, strict=True):
            tally["passed" if ok else "failed"] += 1
        results = [
            {
                "name": c["name"],
                "type": result_type,
                "score": score,
                "passed": ok,
                "sample": judge,
            }
            for c, result_type, (score, ok, _), judge in zip(
                testing_criteria,
                result_types,
                outcome.scores,
                outcome.judges or [None] * len(outcome.scores),
                strict=True,
            )
        ]
        status: ItemStatus = "pass" if outcome.passed and not outcome.errored else "fail"
        items.append(OutputItemOutcome(index, status, outcome.item, results, outcome.sample))
    return RunOutcome(counts, per_criterion, _usage(model, graded), items)
