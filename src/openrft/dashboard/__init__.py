"""The web dashboard: a static single-page app served by ``openrft serve`` at ``/``.

It owns no business rules: every number it shows comes from the server's OpenAI-shaped API
(``/v1/fine_tuning/jobs``, ``/v1/evals``, graders) with the same bearer key, plus three
openrft additions: ``GET /v1/fine_tuning/jobs/{id}/metrics`` (all metrics events' data),
``GET /v1/fine_tuning/jobs/{id}/rollouts[?step=N]`` and ``/v1/openrft/graders`` (saved
graders). Every asset ships inside the package (uPlot 1.6.32, MIT, vendored from npm), so it
works offline.

>>> from openrft.dashboard import mount_dashboard
>>> mount_dashboard(app)          # a FastAPI app: GET / and /static/…
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATIC_DIR = Path(__file__).parent / "static"


def mount_dashboard(app: Any) -> None:
    """Serve the dashboard's page at ``/`` and its assets under ``/static`` on ``app``.

    The page and assets hold no data; the data calls carry the API key the user signs in with.
    """
    from fastapi.responses import FileResponse
    from fastapi.staticfiles import StaticFiles

    index = STATIC_DIR / "index.html"

    @app.get("/", include_in_schema=False)
    def dashboard_index() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
