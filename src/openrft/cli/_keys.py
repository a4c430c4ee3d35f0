"""``openrft keys``: the API keys of projects (create, list, revoke), straight in the store.

A key belongs to one project and sees only that project's files, jobs, models, evals and
graders; ``--admin`` keys see every project. The key is printed once at creation and never
stored (the store keeps a salted SHA-256 digest). The server's own keys (``OPENRFT_API_KEYS``,
or the generated ``DATA_DIR/api-key``) are admin keys of the ``default`` project.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from openrft.cli._console import console

if TYPE_CHECKING:
    from openrft.store import Store

keys_app = typer.Typer(help="API keys of projects: each key sees only its project.", no_args_is_help=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="The server's data folder (env OPENRFT_DATA_DIR; default ~/.local/share/openrft)"
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="The server's database, if not SQLite (env OPENRFT_DATABASE_URL)"),
]


def _store(data_dir: Path | None, database_url: str | None) -> Store:
    from openrft.server import ServerSettings

    given: dict[str, Any] = {"data_dir": data_dir, "database_url": database_url}
    return ServerSettings(**{k: v for k, v in given.items() if v is not None}).open_store()


@keys_app.command("create")
def create(
    project: Annotated[str, typer.Option("--project", help="The project the key belongs to (made if new)")],
    admin: Annotated[bool, typer.Option("--admin", help="Let the key see and change every project")] = False,
    name: Annotated[str | None, typer.Option("--name", help="A label to recognise the key by")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Make a key for PROJECT and print it (once: only its digest is stored)."""
    store = _store(data_dir, database_url)
    try:
        row, key = store.keys.create(project, admin=admin, name=name)
    finally:
        store.close()
    kind = "admin key (every project)" if admin else "key"
    console.print(f"{kind} {row.id} for project [bold]{row.project}[/]:", highlight=False)
    print(key)  # alone on its line, for scripts: KEY=$(openrft keys create … | tail -1)
    console.print("[yellow]Keep it now: it is not stored and cannot be shown again.[/]")


@keys_app.command("list")
def list_keys(
    project: Annotated[str | None, typer.Option("--project", help="Only this project's keys")] = None,
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked keys")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List keys (never the keys themselves: their id, project and a redacted form)."""
    store = _store(data_dir, database_url)
    try:
        rows = store.keys.list(project=project, revoked=revoked)
    finally:
        store.close()
    if not rows:
        console.print("no keys" + (f" for project {project}" if project else ""))
        return
    header = ("id", "project", "admin", "name", "key", "created", "status")
    lines = [header]
    for row in rows:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(row.created_at))
        status = "revoked" if row.revoked_at is not None else "active"
        lines.append(
            (row.id, row.project, "yes" if row.admin else "", row.name or "", row.redacted, created, status)
        )
    # Plain columns, never cut short whatever the terminal's width: the id is what `revoke` takes.
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…), as `openrft keys list` shows it")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key: refused by every server on this store within a few seconds."""
    store = _store(data_dir, database_url)
    try:
        row = store.keys.revoke(key_id)
    finally:
        store.close()
    console.print(f"revoked {row.id} (project {row.project})", highlight=False)
