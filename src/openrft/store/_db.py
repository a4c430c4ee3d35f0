"""The database: embedded SQLite by default, PostgreSQL when a ``postgresql://`` URL is given.

SQLite runs in WAL mode with ``synchronous=NORMAL`` (durable across process crashes, the
sandbox-and-reliability reference §5), a busy timeout (concurrent writers wait instead of
failing with "database is locked") and foreign keys on. Write transactions start with
``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes can fail at once when
another process wrote in between (SQLite cannot upgrade a stale snapshot), whatever the timeout.

On start a new database gets the current tables; an older one is upgraded by the numbered
steps in ``migrations/``; the ``schema_version`` row says which step the database is at.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Result,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from openrft.errors import InvalidRequestError
from openrft.store._tables import Base, Meta
from openrft.store.migrations import LATEST, migrations

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3; anything else is taken as it is."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir) / 'openrft.db'}"


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Transactions are begun below, not by the driver (which would always defer them).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """An engine plus two session factories: ``read()`` and ``write()`` transactions.

    Args:
        url: a SQLAlchemy URL (``sqlite:///path``, ``postgresql://user@host/db``).
    """

    def __init__(self, url: str):
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(self.url, connect_args={"check_same_thread": False})
            _sqlite_pragmas(self.engine)
            writer: Engine = self.engine.execution_options(sqlite_immediate=True)
        elif self.dialect == "postgresql":
            self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            writer = self.engine
        else:
            raise InvalidRequestError(
                f"database URL {url!r}: use sqlite:///PATH or postgresql://USER@HOST/DB", param="database_url"
            )
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(writer, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (committed or rolled back at the end)."""
        with self._reader.begin() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session for a read-modify-write transaction; commits on success."""
        with self._writer.begin() as session:
            yield session

    def upgrade_schema(self) -> int:
        """Create a new database's tables, or upgrade an older one; returns the version it was at (0: new)."""
        with self.write() as session:
            # Several processes may start at once: one creates or upgrades, the others then see it done.
            if self.dialect == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(7261)"))
            connection = session.connection()
            found = recorded_version(connection)
            if found == 0:
                Base.metadata.create_all(connection)
            elif found > LATEST:
                raise InvalidRequestError(
                    f"the database holds schema version {found}, newer than this openrft's {LATEST}; "
                    "upgrade openrft, or use a new --data-dir or --database-url",
                    param="database_url",
                )
            else:
                for step in migrations()[found:]:
                    log.info("upgrading the database schema: %04d_%s", step.number, step.name)
                    step.upgrade(connection)
            stamp_version(connection, LATEST)
        return found

    def close(self) -> None:
        self.engine.dispose()


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run through ``Session.execute`` matched.

    SQLAlchemy's stubs type ``Session.execute`` as returning ``Result``, which has no
    ``rowcount``; for those statements the object is a ``CursorResult``, which has it.
    """
    return cast("CursorResult[Any]", result).rowcount


def recorded_version(connection: Connection) -> int:
    """The schema version a database is at; 0 for an empty one."""
    if not inspect(connection).has_table(Meta.__tablename__):
        return 0
    value = connection.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar_one_or_none()
    return int(value) if value is not None else 0


def stamp_version(connection: Connection, version: int) -> None:
    """Record that the database is at schema ``version``."""
    if connection.execute(select(Meta.value).where(Meta.key == "schema_version")).first() is None:
        connection.execute(insert(Meta).values(key="schema_version", value=str(version)))
    else:
        connection.execute(update(Meta).where(Meta.key == "schema_version").values(value=str(version)))
