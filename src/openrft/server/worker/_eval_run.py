"""Running one eval run in the executor process: rows → samples → grades → output items.

The OpenAI Evals semantics (data sources, templating, criteria, result fields) live in
:mod:`openrft.evals`; this is the glue: read the run and its eval from the store, open the
model, write the output items and the run's outcome. A ``completions``/``responses`` run keeps
its results file in ``DATA_DIR/runs/<id>``, so a restarted run continues.
"""

from __future__ import annotations

import asyncio
import traceback
import uuid
from typing import Any

from openrft.config import Settings
from openrft.errors import OpenRFTError
from openrft.evals import (
    Criterion,
    GradedItem,
    criteria_of,
    grade_given_samples,
    run_outcome,
    sample_and_grade,
    source_rows,
)
from openrft.graders import GraderRuntime
from openrft.server._shared import stored_model_registry
from openrft.store import EvalRow, EvalRunRow, OutputItemRow, OutputItemStatus, RunStatus, Store, now


async def _sample_and_grade(
    store: Store,
    run: EvalRunRow,
    rows: list[dict[str, Any]],
    criteria: list[Criterion],
    runtime: GraderRuntime,
    core: Settings,
) -> list[GradedItem]:
    from openrft.models import open_backend

    model = str(run.model)
    backend = open_backend(stored_model_registry(store, core).reference(model), core)
    try:
        return await sample_and_grade(
            backend,
            rows,
            run.data_source,
            criteria,
            runtime=runtime,
            model=model,
            results_dir=store.run_dir(run.id),
            run_id=run.id,
        )
    finally:
        backend.close()


def record_outcome(store: Store, run: EvalRunRow, ev: EvalRow, graded: list[GradedItem]) -> dict[str, Any]:
    """Write the output items (once each) and return the run's result fields."""
    outcome = run_outcome(ev.testing_criteria, graded, run.model)
    existing = store.output_item_indexes(run.id)
    for item in outcome.output_items:
        if item.datasource_item_id in existing:
            continue
        store.add(
            OutputItemRow(
                id=f"outputitem_{uuid.uuid4().hex}",
                run_id=run.id,
                eval_id=run.eval_id,
                created_at=now(),
                status=OutputItemStatus(item.status),
                datasource_item_id=item.datasource_item_id,
                datasource_item=item.datasource_item,
                results=item.results,
                sample=item.sample,
            )
        )
    return outcome.run_fields()


def run_eval_run(store: Store, run_id: str, core: Settings) -> None:
    """Execute ``run_id`` and record its outcome (``completed`` or ``failed``).

    Never raises for the run's own errors: they become the run's ``error``.
    """
    run = store.get(EvalRunRow, run_id)
    ev = store.get(EvalRow, run.eval_id)
    runtime = GraderRuntime(core, project=run.project)
    try:
        rows = source_rows(run.data_source.get("source") or {}, store.files.read)
        criteria = criteria_of(ev.testing_criteria)
        if run.data_source.get("type") == "jsonl":
            graded = asyncio.run(grade_given_samples(rows, criteria, runtime))
        else:
            graded = asyncio.run(_sample_and_grade(store, run, rows, criteria, runtime, core))
        fields = record_outcome(store, run, ev, graded)
    except OpenRFTError as exc:
        store.runs.transition(
            run_id,
            {RunStatus.IN_PROGRESS},
            RunStatus.FAILED,
            error={"code": exc.code or "invalid_request", "message": exc.message},
        )
        return
    except Exception as exc:
        traceback.print_exc()
        store.runs.transition(
            run_id,
            {RunStatus.IN_PROGRESS},
            RunStatus.FAILED,
            error={"code": "internal_error", "message": f"{type(exc).__name__}: {exc}"},
        )
        return
    finally:
        runtime.close()
    store.runs.transition(run_id, {RunStatus.IN_PROGRESS}, RunStatus.COMPLETED, **fields)
