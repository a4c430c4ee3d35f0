"""Numbered schema migrations, the procrastinate way: ``NNNN_what.py``, each with ``upgrade(connection)``.

The database records the number of the last step applied (``openrft_meta.schema_version``).
A new database is created from the current tables (``_tables.py``) and stamped with the last
number; an existing one runs every step above its number, in order, in one transaction with
the new number. ``0001_initial`` is the schema openrft had before migrations existed.

To change the schema: change ``_tables.py`` and add the next step doing the same to an
existing database. ``tests/store/test_migrations.py`` checks that a database made by step 1
(and one written by the openrft of that time) upgrades to exactly what a new one has.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection

_STEP = re.compile(r"^(\d{4})_(\w+)$")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    upgrade: Callable[[Connection], None]


def migrations() -> list[Migration]:
    """Every step in this folder, by number."""
    found = []
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        match = _STEP.match(module.name)
        if match:
            loaded = importlib.import_module(f"{__name__}.{module.name}")
            found.append(Migration(int(match[1]), match[2], loaded.upgrade))
    found.sort(key=lambda m: m.number)
    assert [m.number for m in found] == list(range(1, len(found) + 1)), "migration numbers must run 1, 2, 3…"
    return found


LATEST = len(migrations())
"""The schema version this openrft creates and upgrades to."""
