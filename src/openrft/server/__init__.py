"""The OpenAI-compatible server: files, RFT jobs, graders, evals and models over HTTP.

>>> from openrft.server import ServerSettings, create_app
>>> app = create_app(ServerSettings(data_dir="/srv/openrft"), api_keys=["sk-local"])
>>> # uvicorn.run(app): then OpenAI(base_url="http://host:8000/v1", api_key="sk-local")

``openrft serve`` runs the app with uvicorn and one job worker; ``openrft worker`` runs more
workers against the same store. See docs/server.md.
"""

from openrft.server._app import create_app
from openrft.server._settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
