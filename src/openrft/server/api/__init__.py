"""The HTTP plane: OpenAI's resources over the store, one thin router per resource over a service.

``create_app`` wires the routers (``_routes/``), the services behind them (``_services/``),
the wire types (``_types/``), the error envelope and the key check. It never runs jobs: the
workers (``openrft.server.worker``) claim what the API queues in the store.
"""

from openrft.server.api._app import create_app
from openrft.server.api._state import ServerState

__all__ = ["ServerState", "create_app"]
