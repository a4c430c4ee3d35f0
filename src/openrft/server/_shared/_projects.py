"""Who is asking: the project of the request's API key, and whether that key is an admin key.

Every resource belongs to one project. A key of a project sees, changes and references only
that project's resources; another project's id answers 404 exactly as an unknown one. An admin
key sees every project (what it creates belongs to its own project).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from openrft.store import DEFAULT_PROJECT


@dataclass(frozen=True)
class Principal:
    """The caller of one request."""

    project: str
    admin: bool = False
    key_id: str | None = None
    """The store's id of a project key (``key_…``); None for the server's own keys."""

    @property
    def scope(self) -> str | None:
        """The project the caller's queries are limited to; None for an admin key (every project)."""
        return None if self.admin else self.project

    def owns(self, project: str | None) -> bool:
        """Whether the caller may see a resource of ``project`` (None: a shared one, e.g. a base model)."""
        return self.admin or project is None or project == self.project


NO_AUTH = Principal(DEFAULT_PROJECT)
"""The caller of a server started with ``--no-auth``."""

TRUSTED = Principal(DEFAULT_PROJECT, admin=True)
"""A caller inside the server (a worker running what the API already checked)."""

request_principal: ContextVar[Principal | None] = ContextVar("openrft_request_principal", default=None)
"""The caller of the request being served (set by the API's key check), for code that is handed
a model name but not the caller: the model registry reads it when it is not given a principal."""
