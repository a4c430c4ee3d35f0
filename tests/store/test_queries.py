"""The store's named queries and its status columns, on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.exc import StatementError

from openrft.errors import InvalidRequestError
from openrft.store import (
    EvalRow,
    EvalRunRow,
    JobRow,
    JobStatus,
    OutputItemRow,
    OutputItemStatus,
    RunStatus,
    Store,
    new_id,
)


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    opened = Store(tmp_path)
    yield opened
    opened.close()


def add_job(store: Store, metadata: dict[str, str] | None = None, **values: Any) -> JobRow:
    row = JobRow(
        id=new_id("ftjob-"),
        created_at=1,
        model="tiny",
        training_file="file-x",
        seed=0,
        method={},
        job_metadata=metadata,
        result_files=[],
        status=JobStatus.QUEUED,
        project="default",
        **values,
    )
    return store.add(row)


def add_eval(store: Store, ident: str, updated_at: int) -> EvalRow:
    row = EvalRow(
        id=ident,
        name=ident,
        created_at=1,
        updated_at=updated_at,
        data_source_config={},
        testing_criteria=[],
        project="default",
    )
    return store.add(row)


def add_run(store: Store, eval_id: str, status: RunStatus, job_id: str | None = None) -> EvalRunRow:
    row = EvalRunRow(
        id=new_id("evalrun_"),
        eval_id=eval_id,
        name="run",
        created_at=1,
        data_source={},
        result_counts={},
        status=status,
        job_id=job_id,
        project="default",
    )
    return store.add(row)


def test_jobs_filtered_by_metadata_page_newest_first(store):
    a = add_job(store, {"team": "qa"})
    add_job(store, {"team": "ml"})
    c = add_job(store, {"team": "qa", "run": "2"})
    first, more = store.jobs_page(project=None, after=None, limit=1, metadata={"team": "qa"})
    assert [r.id for r in first] == [c.id] and more
    rest, more = store.jobs_page(project=None, after=c.id, limit=10, metadata={"team": "qa"})
    assert [r.id for r in rest] == [a.id] and not more
    with pytest.raises(InvalidRequestError, match="no job with id"):
        store.jobs_page(project=None, after="ftjob-elsewhere", limit=10, metadata={"team": "qa"})


def test_evals_page_by_last_update(store):
    add_eval(store, "eval_a", updated_at=30)
    add_eval(store, "eval_b", updated_at=10)
    add_eval(store, "eval_c", updated_at=20)
    newest, more = store.evals_page(project=None, after=None, limit=2, order="desc", order_by="updated_at")
    assert [r.id for r in newest] == ["eval_a", "eval_c"] and more
    oldest, _ = store.evals_page(project=None, after="eval_b", limit=5, order="asc", order_by="updated_at")
    assert [r.id for r in oldest] == ["eval_c", "eval_a"]
    created, _ = store.evals_page(project=None, after=None, limit=5, order="asc", order_by="created_at")
    assert [r.id for r in created] == ["eval_a", "eval_b", "eval_c"]


def test_runs_by_status_and_by_job(store):
    add_eval(store, "eval_a", updated_at=1)
    job = add_job(store)
    done = add_run(store, "eval_a", RunStatus.COMPLETED, job_id=job.id)
    add_run(store, "eval_a", RunStatus.QUEUED)
    rows, _ = store.runs_page("eval_a", after=None, limit=10, order="asc", status=RunStatus.COMPLETED)
    assert [r.id for r in rows] == [done.id]
    assert [r.id for r in store.job_runs(job.id)] == [done.id]


def test_output_item_indexes_and_status_filter(store):
    add_eval(store, "eval_a", updated_at=1)
    run = add_run(store, "eval_a", RunStatus.IN_PROGRESS)
    for index, status in enumerate((OutputItemStatus.PASS, OutputItemStatus.FAIL, OutputItemStatus.PASS)):
        store.add(
            OutputItemRow(
                id=new_id("outputitem_"),
                run_id=run.id,
                eval_id="eval_a",
                created_at=1,
                status=status,
                datasource_item_id=index,
                datasource_item={},
                results=[],
            )
        )
    assert store.output_item_indexes(run.id) == {0, 1, 2}
    failed, _ = store.output_items_page(
        run.id, after=None, limit=10, order="asc", status=OutputItemStatus.FAIL
    )
    assert [i.datasource_item_id for i in failed] == [1]


def test_a_status_is_stored_as_openais_string_and_read_back_as_the_enum(store):
    job = add_job(store)
    assert store.jobs.transition(job.id, {"queued"}, JobStatus.CANCELLED)  # plain strings still work
    row = store.get(JobRow, job.id)
    assert row.status is JobStatus.CANCELLED and row.status == "cancelled"
    with store.db.read() as session:
        assert (
            session.connection().exec_driver_sql("SELECT status FROM fine_tuning_jobs").scalar()
            == "cancelled"
        )


def test_a_job_cannot_be_given_the_eval_run_spelling(store):
    job = add_job(store)
    with pytest.raises(StatementError, match="canceled"):
        store.jobs.transition(job.id, {JobStatus.QUEUED}, "canceled")
    assert store.get(JobRow, job.id).status is JobStatus.QUEUED
