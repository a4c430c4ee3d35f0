"""Numbered migrations: an old database upgrades to exactly the schema a new one gets.

The schema is compared through SQLAlchemy's inspector (tables, columns, keys, indexes, unique
constraints), column order aside: what procrastinate checks with migra, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from openrft.errors import InvalidRequestError
from openrft.store import SCHEMA_VERSION, EvalRunRow, JobRow, JobStatus, OutputItemStatus, RunStatus, Store
from openrft.store._db import Database, normalize_url, recorded_version, sqlite_url, stamp_version
from openrft.store.migrations import migrations

OLD_DATABASE = Path(__file__).parent / "data" / "schema-1.sql"


def schema_of(url: str) -> dict[str, Any]:
    engine = create_engine(normalize_url(url))
    try:
        found = inspect(engine)
        return {
            table: {
                "columns": sorted(
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                    for c in found.get_columns(table)
                ),
                "primary_key": found.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(table)
                ),
                "unique": sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(table)),
                "foreign_keys": sorted(
                    (
                        tuple(f["constrained_columns"]),
                        f["referred_table"],
                        tuple(f["referred_columns"]),
                        f.get("options", {}).get("ondelete"),
                    )
                    for f in found.get_foreign_keys(table)
                ),
            }
            for table in sorted(found.get_table_names())
        }
    finally:
        engine.dispose()


def database_at(url: str, version: int) -> None:
    """A database made by the first ``version`` steps, recorded at that version."""
    db = Database(url)
    with db.write() as session:
        connection = session.connection()
        for step in migrations()[:version]:
            step.upgrade(connection)
        stamp_version(connection, version)
    db.close()


def upgrade(url: str) -> int:
    """Open ``url`` as openrft does; returns the version it was at."""
    db = Database(url)
    try:
        return db.upgrade_schema()
    finally:
        db.close()


def version_of(url: str) -> int:
    engine = create_engine(normalize_url(url))
    with engine.connect() as connection:
        found = recorded_version(connection)
    engine.dispose()
    return found


def test_steps_are_numbered_one_by_one_and_the_last_is_the_schema_version():
    steps = migrations()
    assert [s.number for s in steps] == list(range(1, len(steps) + 1))
    assert steps[0].name == "initial" and SCHEMA_VERSION == len(steps) >= 2


def test_every_step_from_an_empty_database_gives_the_schema_of_a_new_one(tmp_path):
    stepped, fresh = sqlite_url(tmp_path / "stepped"), sqlite_url(tmp_path / "fresh")
    database_at(stepped, SCHEMA_VERSION)
    assert upgrade(fresh) == 0
    assert schema_of(stepped) == schema_of(fresh)
    assert version_of(fresh) == SCHEMA_VERSION


def test_a_database_made_by_step_1_upgrades_to_the_schema_of_a_new_one(tmp_path):
    old, fresh = sqlite_url(tmp_path / "old"), sqlite_url(tmp_path / "fresh")
    database_at(old, 1)
    upgrade(fresh)
    assert schema_of(old) != schema_of(fresh)  # there is something to upgrade
    assert upgrade(old) == 1
    assert schema_of(old) == schema_of(fresh)
    assert version_of(old) == SCHEMA_VERSION
    assert upgrade(old) == SCHEMA_VERSION  # opening it again changes nothing


def _load_old_database(folder: Path) -> None:
    folder.mkdir()
    with sqlite3.connect(folder / "openrft.db") as connection:
        connection.executescript(OLD_DATABASE.read_text())
    connection.close()


def test_a_database_written_before_migrations_is_step_1_and_upgrades_with_its_rows(tmp_path):
    _load_old_database(tmp_path / "old")
    old = sqlite_url(tmp_path / "old")
    step_1 = sqlite_url(tmp_path / "step-1")
    database_at(step_1, 1)
    assert schema_of(old) == schema_of(step_1)  # 0001_initial is what openrft wrote then
    assert version_of(old) == 1

    store = Store(tmp_path / "old")  # upgrades on open
    fresh = Store(tmp_path / "fresh")
    try:
        assert schema_of(old) == schema_of(sqlite_url(tmp_path / "fresh"))
        job = store.get(JobRow, "ftjob-aaaaaaaaaaaaaaaaaaaaaaaa")
        assert job.status is JobStatus.SUCCEEDED and job.fine_tuned_model
        runs = store.job_runs(job.id)
        assert [(r.id, r.status) for r in runs] == [("evalrun_aaaa", RunStatus.COMPLETED)]
        items, _ = store.output_items_page("evalrun_aaaa", after=None, limit=10, order="asc", status=None)
        assert [i.status for i in items] == [OutputItemStatus.PASS]
        assert store.checkpoint_steps(job.id) == {2}
        assert store.runs.claim("worker-1", lease_seconds=60) == "evalrun_bbbb"  # queued work still runs
        assert store.get(EvalRunRow, "evalrun_bbbb").status is RunStatus.IN_PROGRESS
    finally:
        store.close()
        fresh.close()


def test_a_database_newer_than_this_openrft_is_refused(tmp_path):
    url = sqlite_url(tmp_path)
    database_at(url, SCHEMA_VERSION)
    engine = create_engine(url)
    with engine.begin() as connection:
        stamp_version(connection, SCHEMA_VERSION + 1)
    engine.dispose()
    with pytest.raises(InvalidRequestError) as caught:
        upgrade(url)
    assert (
        f"schema version {SCHEMA_VERSION + 1}, newer than this openrft's {SCHEMA_VERSION}"
        in caught.value.message
    )
    assert caught.value.param == "database_url"


@pytest.mark.slow
@pytest.mark.needs("postgres")
def test_on_postgres_a_database_made_by_step_1_upgrades_to_the_schema_of_a_new_one(postgres_url):
    base = postgres_url.rsplit("/", 1)[0]
    admin = create_engine(normalize_url(postgres_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in ("old", "fresh", "stepped"):
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    old, fresh, stepped = f"{base}/old", f"{base}/fresh", f"{base}/stepped"
    database_at(old, 1)
    database_at(stepped, SCHEMA_VERSION)
    assert upgrade(fresh) == 0
    assert schema_of(old) != schema_of(fresh)
    assert upgrade(old) == 1
    assert schema_of(old) == schema_of(fresh) == schema_of(stepped)
    assert version_of(old) == SCHEMA_VERSION
