"""Running one eval run (in the executor process): rows → samples → grades → output items.

``jsonl`` runs grade the samples given with each row; ``completions`` and ``responses`` runs
render ``input_messages`` with each row's ``item``, sample the model through the evals engine
(its results file in ``DATA_DIR/runs/<id>`` makes a restarted run continue), then grade.
"""

from __future__ import annotations

import asyncio
import json
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openrft.config import Settings
from openrft.errors import InvalidRequestError, OpenRFTError
from openrft.evals import Criterion
from openrft.graders import GraderRuntime, RunGraderResponse, grade_batch_async, make_sample, render
from openrft.models import GenerationOptions
from openrft.server._shared import ModelRegistry
from openrft.store import EvalRow, EvalRunRow, OutputItemRow, Store, now

RESULT_TYPES = {
    "string_check": "string-check-grader",
    "text_similarity": "text-similarity-grader",
    "score_model": "score-model-grader",
    "label_model": "label-model-grader",
    "python": "python-grader",
    "multi": "multi-grader",
}


@dataclass
class _Row:
    line: int
    messages: list[dict[str, Any]]
    item: dict[str, Any]


@dataclass
class _Graded:
    """One row's outcome: its sample (for the output item) and one verdict per criterion."""

    item: dict[str, Any]
    sample: dict[str, Any] | None
    scores: list[tuple[float, bool, bool]]
    """Per criterion: (score, passed, errored)."""
    usage: tuple[int, int] = (0, 0)


def load_rows(store: Store, source: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``[{"item": …, "sample": …}]`` from ``file_content`` or a stored JSONL file (bare items allowed)."""
    if source.get("type") == "file_content":
        return [dict(r) for r in source.get("content") or []]
    raw = store.files.read(str(source.get("id")))
    rows = []
    for number, line in enumerate(raw.decode("utf-8").splitlines(), 1):
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


def _options(data_source: Mapping[str, Any]) -> GenerationOptions:
    params = data_source.get("sampling_params") or {}
    fmt = params.get("response_format")
    text_format = (
        (params.get("text") or {}).get("format") if isinstance(params.get("text"), Mapping) else None
    )
    if isinstance(text_format, Mapping) and text_format.get("type") == "json_schema":
        fmt = {
            "type": "json_schema",
            "json_schema": {"name": text_format.get("name"), "schema": text_format.get("schema")},
        }
    return GenerationOptions(
        temperature=float(params.get("temperature", 1.0)),
        top_p=float(params.get("top_p", 1.0)) or 1.0,
        max_tokens=int(params.get("max_completion_tokens") or params.get("max_completions_tokens") or 512),
        seed=params.get("seed", 42),
        response_format=fmt if isinstance(fmt, Mapping) and fmt.get("type") != "text" else None,
    )


def _given_sample(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return make_sample(value)
    if isinstance(value, Mapping):
        return {**make_sample(str(value.get("output_text", ""))), **value}
    return make_sample("")


async def _grade_given(
    rows: list[dict[str, Any]], criteria: list[Criterion], runtime: GraderRuntime
) -> list[_Graded]:
    pairs = [(_given_sample(r.get("sample")), r["item"]) for r in rows]
    per_criterion: list[list[RunGraderResponse]] = [
        await grade_batch_async(c.grader, pairs, runtime=runtime)
        for c in criteria  # type: ignore[arg-type]
    ]
    return [
        _Graded(
            item=row["item"],
            sample=row.get("sample")
            if isinstance(row.get("sample"), dict)
            else {"output_text": row.get("sample")},
            scores=[
                (r[i].reward, c.passed(r[i].reward), bool(r[i].errors.raised()))
                for c, r in zip(criteria, per_criterion, strict=True)
            ],
        )
        for i, row in enumerate(rows)
    ]


async def _sample_and_grade(
    store: Store,
    run: EvalRunRow,
    rows: list[dict[str, Any]],
    criteria: list[Criterion],
    runtime: GraderRuntime,
    core: Settings,
) -> list[_Graded]:
    from openrft.evals import ResultsFile, run_eval
    from openrft.models import open_backend

    source = run.data_source
    backend = open_backend(ModelRegistry(store, core).reference(str(run.model)), core)
    prompts = [
        _Row(i + 1, prompt_for(source["input_messages"], r["item"]), r["item"]) for i, r in enumerate(rows)
    ]
    options = _options(source)
    try:
        with ResultsFile(store.run_dir(run.id), {"run": run.id}) as results:
            outcome = await run_eval(
                backend,
                prompts,
                criteria,
                options=options,
                store=results,
                runtime=runtime,
                model_name=str(run.model),
            )
    finally:
        backend.close()
    return [
        graded_answer(record, prompt.item, prompt.messages, criteria, str(run.model), options)
        for record, prompt in zip(outcome.records, prompts, strict=True)
    ]


def graded_answer(
    record: Any,
    item: dict[str, Any],
    messages: Sequence[Mapping[str, Any]],
    criteria: Sequence[Criterion],
    model: str,
    options: GenerationOptions,
) -> _Graded:
    """One sampled answer (an evals-engine record) as an output item's sample and verdicts."""
    sample = {
        "input": [{"role": m["role"], "content": m["content"]} for m in messages],
        "output": [{"role": "assistant", "content": record.output}],
        "finish_reason": record.finish_reason,
        "model": model,
        "usage": {
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": record.completion_tokens,
            "total_tokens": record.prompt_tokens + record.completion_tokens,
            "cached_tokens": 0,
        },
        "error": None,
        "temperature": options.temperature,
        "max_completion_tokens": options.max_tokens,
        "top_p": options.top_p,
        "seed": options.seed,
    }
    scores = [
        (record.scores[c.name], record.passed[c.name], bool(record.errors.get(c.name))) for c in criteria
    ]
    return _Graded(item, sample, scores, (record.prompt_tokens, record.completion_tokens))


def record_outcome(store: Store, run: EvalRunRow, ev: EvalRow, graded: list[_Graded]) -> dict[str, Any]:
    """Write the output items (once each) and return the run's result fields."""
    existing = {
        r.datasource_item_id
        for r in store.page(OutputItemRow, limit=1_000_000, where=[OutputItemRow.run_id == run.id])[0]
    }
    counts = {"total": len(graded), "errored": 0, "failed": 0, "passed": 0}
    per_criterion = [{"testing_criteria": c["id"], "passed": 0, "failed": 0} for c in ev.testing_criteria]
    for index, outcome in enumerate(graded):
        passed = all(p for _, p, _ in outcome.scores)
        errored = any(e for _, _, e in outcome.scores)
        counts["errored" if errored else "passed" if passed else "failed"] += 1
        for tally, (_, ok, _) in zip(per_criterion, outcome.scores, strict=True):
            tally["passed" if ok else "failed"] += 1
        if index in existing:
            continue
        results = [
            {
                "name": c["name"],
                "type": RESULT_TYPES.get(c.get("type", ""), c.get("type")),
                "score": score,
                "passed": ok,
                "sample": None,
            }
            for c, (score, ok, _) in zip(ev.testing_criteria, outcome.scores, strict=True)
        ]
        store.add(
            OutputItemRow(
                id=f"outputitem_{uuid.uuid4().hex}",
                run_id=run.id,
                eval_id=run.eval_id,
                created_at=now(),
                status="pass" if passed and not errored else "fail",
                datasource_item_id=index,
                datasource_item=outcome.item,
                results=results,
                sample=outcome.sample,
            )
        )
    usage = None
    if run.model:
        prompt = sum(g.usage[0] for g in graded)
        completion = sum(g.usage[1] for g in graded)
        usage = [
            {
                "model_name": run.model,
                "invocation_count": len(graded),
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "cached_tokens": 0,
            }
        ]
    return {"result_counts": counts, "per_testing_criteria_results": per_criterion, "per_model_usage": usage}


def run_eval_run(store: Store, run_id: str, core: Settings) -> None:
    """Execute ``run_id`` and record its outcome (``completed`` or ``failed``).

    Never raises for the run's own errors: they become the run's ``error``.
    """
    run = store.get(EvalRunRow, run_id)
    ev = store.get(EvalRow, run.eval_id)
    runtime = GraderRuntime(core)
    try:
        rows = load_rows(store, run.data_source.get("source") or {})
        criteria = criteria_of(ev.testing_criteria)
        if run.data_source.get("type") == "jsonl":
            graded = asyncio.run(_grade_given(rows, criteria, runtime))
        else:
            graded = asyncio.run(_sample_and_grade(store, run, rows, criteria, runtime, core))
        fields = record_outcome(store, run, ev, graded)
    except OpenRFTError as exc:
        store.runs.transition(
            run_id,
            {"in_progress"},
            "failed",
            error={"code": exc.code or "invalid_request", "message": exc.message},
        )
        return
    except Exception as exc:
        traceback.print_exc()
        store.runs.transition(
            run_id,
            {"in_progress"},
            "failed",
            error={"code": "internal_error", "message": f"{type(exc).__name__}: {exc}"},
        )
        return
    finally:
        runtime.close()
    store.runs.transition(run_id, {"in_progress"}, "completed", **fields)
