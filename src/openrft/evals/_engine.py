"""The evals engine: dataset × model × testing criteria × runs → one record per answer.

Items go through in fixed batches (``batch_size`` items, all runs of an item sampled in one
call with ``n=n_runs``). Grading a batch overlaps with sampling the next one. With a seed,
batch ``k`` samples with ``seed + k`` whatever was done before, so a resumed eval on a
deterministic backend writes exactly the records an uninterrupted one would have.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from openrft.errors import InvalidRequestError
from openrft.evals._criteria import Criterion, check_criteria
from openrft.evals._records import EvalRecord, ResultsFile
from openrft.graders import GraderRuntime, RunGraderResponse, grade_batch_async, make_sample
from openrft.models import Completion, GenerationOptions, SamplingBackend

Progress = Callable[[str, int, int], None]
"""``on_progress(stage, done, total)`` with stage ``sampled`` or ``graded`` (counted in answers)."""


class Row(Protocol):
    """An eval item: the prompt messages and the fields graders see as ``item`` (read-only, so
    that a dataclass with narrower fields, such as ``list[dict]`` messages, is one)."""

    @property
    def line(self) -> int: ...
    @property
    def messages(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def item(self) -> Mapping[str, Any]: ...


@dataclass
class EvalResult:
    """Every record of one eval, across models."""

    records: list[EvalRecord]
    criteria: list[Criterion]

    def summary(self) -> dict[str, Any]:
        from openrft.evals._metrics import summarize

        return summarize(self.records, self.criteria)


def prompt_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI's ``developer`` role as ``system``, which every chat template knows."""
    return [{**m, "role": "system"} if m.get("role") == "developer" else dict(m) for m in messages]


def _record(
    model: str,
    index: int,
    run: int,
    row: Row,
    completion: Completion,
    criteria: Sequence[Criterion],
    responses: Sequence[RunGraderResponse],
) -> EvalRecord:
    labelled = "reference_answer" in row.item
    return EvalRecord(
        model=model,
        item_index=index,
        run=run,
        line=row.line,
        prompt=[dict(m) for m in row.messages],
        output=completion.text,
        finish_reason=completion.finish_reason,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        reasoning_tokens=completion.reasoning_tokens,
        scores={c.name: r.reward for c, r in zip(criteria, responses, strict=True)},
        passed={c.name: c.passed(r.reward) for c, r in zip(criteria, responses, strict=True)},
        errors={c.name: r.errors.raised() for c, r in zip(criteria, responses, strict=True)},
        reference=row.item["reference_answer"] if labelled else dict(row.item),
        labelled=labelled,
        sub_rewards={
            c.name: dict(r.sub_rewards) for c, r in zip(criteria, responses, strict=True) if r.sub_rewards
        },
        output_tools=[call.to_openai() for call in completion.tool_calls],
        judge_samples={
            c.name: r.details["sample"]
            for c, r in zip(criteria, responses, strict=True)
            if r.details.get("sample")
        },
    )


async def _grade(
    model: str,
    todo: list[tuple[int, int, Row, Completion]],
    criteria: Sequence[Criterion],
    runtime: GraderRuntime | None,
) -> list[EvalRecord]:
    pairs = [
        (
            make_sample(
                c.text,
                output_tools=[call.to_openai() for call in c.tool_calls],
                model=model,
                finish_reason=c.finish_reason,
            ),
            dict(row.item),
        )
        for _, _, row, c in todo
    ]
    per_criterion = await asyncio.gather(
        *(grade_batch_async(c.grader, pairs, runtime=runtime) for c in criteria)
    )
    return [
        _record(model, index, run, row, completion, criteria, [responses[k] for responses in per_criterion])
        for k, (index, run, row, completion) in enumerate(todo)
    ]


async def _sample_batch(
    backend: SamplingBackend, batch: list[tuple[int, Row]], n_runs: int, options: GenerationOptions
) -> dict[int, tuple[Row, list[Completion]]]:
    """``n_runs`` answers for each row of ``batch``; rows that bring their own ``tools`` (RFT rows may)
    are sampled with them, one request per distinct tool set, the others with ``options``'."""
    groups: dict[str, list[tuple[int, Row]]] = {}
    for index, row in batch:
        tools = row.item.get("tools") if isinstance(getattr(row, "item", None), Mapping) else None
        groups.setdefault(json.dumps(tools, sort_keys=True) if tools else "", []).append((index, row))
    out: dict[int, tuple[Row, list[Completion]]] = {}
    for key, members in groups.items():
        given = replace(options, tools=json.loads(key)) if key else options
        conversations = [prompt_messages(row.messages) for _, row in members]
        completions = await backend.sample(conversations, n=n_runs, options=given)
        out.update({i: (row, completions[k]) for k, (i, row) in enumerate(members)})
    return out


async def run_eval(
    backend: SamplingBackend,
    rows: Sequence[Row],
    criteria: Sequence[Criterion],
    *,
    n_runs: int = 1,
    options: GenerationOptions | None = None,
    store: ResultsFile | None = None,
    on_progress: Progress | None = None,
    runtime: GraderRuntime | None = None,
    batch_size: int = 8,
    model_name: str | None = None,
) -> EvalResult:
    """Sample ``n_runs`` answers per row from ``backend`` and grade each with every criterion.

    Records already in ``store`` are kept and not redone; new ones are appended to it as
    each batch finishes. Returns this model's records in (item, run) order.
    """
    if n_runs < 1:
        raise InvalidRequestError(f"n_runs must be at least 1, not {n_runs}", param="n_runs")
    check_criteria(criteria)
    options = options or GenerationOptions()
    model = model_name or backend.name
    total = len(rows) * n_runs
    done_before = sum(
        1 for i in range(len(rows)) for r in range(n_runs) if store and store.has((model, i, r))
    )
    counts = {"sampled": done_before, "graded": done_before}

    def report(stage: str, n: int) -> None:
        counts[stage] += n
        if on_progress is not None:
            on_progress(stage, counts[stage], total)

    report("sampled", 0)
    report("graded", 0)
    grading: asyncio.Task[list[EvalRecord]] | None = None
    fresh: list[EvalRecord] = []

    async def collect() -> None:
        nonlocal grading
        if grading is not None:
            records = await grading
            grading = None
            if store is not None:
                store.add(records)
            fresh.extend(records)
            report("graded", len(records))

    try:
        for batch_no, start in enumerate(range(0, len(rows), batch_size)):
            batch = list(enumerate(rows[start : start + batch_size], start))
            missing = [
                (i, r) for i, _ in batch for r in range(n_runs) if not (store and store.has((model, i, r)))
            ]
            if not missing:
                continue
            seeded = options if options.seed is None else replace(options, seed=options.seed + batch_no)
            by_index = await _sample_batch(backend, batch, n_runs, seeded)
            report("sampled", len(missing))
            todo = [(i, r, by_index[i][0], by_index[i][1][r]) for i, r in missing]
            await collect()
            grading = asyncio.create_task(_grade(model, todo, criteria, runtime))
        await collect()
    finally:  # interrupted: the batch being graded is dropped, and redone on resume
        if grading is not None:
            grading.cancel()
            await asyncio.gather(grading, return_exceptions=True)

    if store is None:
        records = fresh
    else:
        records = [store.records[(model, i, r)] for i in range(len(rows)) for r in range(n_runs)]
    records.sort(key=lambda rec: (rec.item_index, rec.run))
    return EvalResult(records=records, criteria=list(criteria))
