"""``openrft serve`` (the API plus job workers) and ``openrft worker`` (more workers, anywhere)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from openrft.cli._console import console
from openrft.errors import InvalidRequestError

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Files, job folders, SQLite database (env OPENRFT_DATA_DIR; default ~/.local/share/openrft)",
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="postgresql://USER@HOST/DB to share one database (env OPENRFT_DATABASE_URL)"
    ),
]


def _models(pairs: list[str]) -> dict[str, str]:
    """``NAME=PATH`` or ``NAME=ORG/REPO[@REVISION]`` pairs; Hub models are fetched (or found) now."""
    from openrft.config import Settings
    from openrft.models import parse_hub_id, resolve_model_path

    models = {}
    for pair in pairs:
        name, sep, value = (part.strip() for part in pair.partition("="))
        if not sep or not name or not value:
            raise InvalidRequestError(
                f"--model {pair!r}: expected NAME=PATH or NAME=ORG/REPO[@REVISION]", param="model"
            )
        path = Path(value).expanduser()
        if path.exists() or parse_hub_id(value) is None:
            models[name] = str(path.resolve())
            continue
        console.print(f"model {name}: {value} from the Hugging Face Hub cache")
        resolve_model_path(value, Settings().cache_dir)  # a miss fails here, in one line
        models[name] = value
    return models


def _allowed_hosts(host: str) -> list[str] | None:
    """The ``Host`` values to answer: loopback names, plus the address served on (any, for all)."""
    import os

    if os.environ.get("OPENRFT_ALLOWED_HOSTS"):
        return None  # the operator's list
    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    return ["localhost", "127.0.0.1", "::1", "[::1]", host, f"[{host}]" if ":" in host else host]


def _settings(**given: Any) -> Any:
    from openrft.server import ServerSettings

    return ServerSettings(**{k: v for k, v in given.items() if v not in (None, {}, False)})


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    workers: Annotated[int, typer.Option("--workers", min=0, help="Job workers run by this process")] = 1,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="API only; run `openrft worker` elsewhere")
    ] = False,
    no_auth: Annotated[bool, typer.Option("--no-auth", help="Accept requests without an API key")] = False,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="Offer a base model: NAME=PATH or NAME=ORG/REPO[@REV] (repeatable)"),
    ] = None,
    allow_runtime_lora: Annotated[
        bool,
        typer.Option(
            "--allow-runtime-lora",
            help="Serve vLLM's /v1/load_lora_adapter and /v1/unload_lora_adapter (a rollout server)",
        ),
    ] = False,
    lora_root: Annotated[
        list[Path] | None,
        typer.Option("--lora-root", help="Only load runtime adapters from inside this folder (repeatable)"),
    ] = None,
    adapter_server: Annotated[
        str | None,
        typer.Option(
            "--adapter-server",
            help="vLLM server (http://host:8000/v1) that serves the ft: models of LoRA jobs as adapters",
        ),
    ] = None,
) -> None:
    """Serve the OpenAI-compatible API (files, RFT jobs, graders, evals, models, dashboard)."""
    import uvicorn

    from openrft.server import create_app
    from openrft.server.worker import start_worker_threads

    settings = _settings(
        data_dir=data_dir,
        database_url=database_url,
        no_auth=no_auth,
        models=_models(model or []),
        allow_runtime_lora_updating=allow_runtime_lora,
        lora_roots=[str(r.expanduser().resolve()) for r in lora_root or []] or None,
        adapter_server_url=adapter_server,
        allowed_hosts=_allowed_hosts(host),
    )
    keys, generated = ([], False) if settings.no_auth else settings.resolved_api_keys()
    app = create_app(settings, api_keys=keys)
    state = app.state.openrft
    store = state.store
    where = settings.database_url or f"SQLite in {store.data_dir}"
    url = f"http://{host}:{port}"
    console.print(f"openrft serving on [bold]{url}/v1[/] (dashboard {url}/); store: {where}")
    if settings.no_auth:
        console.print("[yellow]auth: off (--no-auth): every request is accepted[/]")
    elif generated:
        console.print(f"auth: generated API key [bold]{keys[0]}[/] (kept in {store.data_dir / 'api-key'})")
    elif settings.api_keys:
        console.print(f"auth: {len(keys)} API key(s) from OPENRFT_API_KEYS")
    else:
        console.print(f"auth: the API key in {store.data_dir / 'api-key'}")
    if not settings.no_auth:
        projects = sorted({k.project for k in store.keys.list()})
        console.print(
            "projects: "
            + (", ".join(projects) if projects else "none yet (`openrft keys create --project NAME`)")
            + "; the server's key is an admin key of 'default'"
        )
    count = 0 if no_worker else workers
    # The workers run jobs with the app's own settings (built once, above).
    stop, threads = start_worker_threads(settings, count, store=store, core=state.core)
    console.print(
        f"workers: {count} in this process" + ("" if count else " (run `openrft worker` to execute jobs)")
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        stop.set()  # running jobs are stopped and queued again, to resume on the next start
        for thread in threads:
            thread.join()


def worker(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    name: Annotated[
        str | None, typer.Option(help="This worker's id in the queue (default host:pid:tag)")
    ] = None,
) -> None:
    """Run queued fine-tuning jobs and eval runs from the same store as `openrft serve`."""
    from openrft.server.worker import Worker

    logging.getLogger("openrft").setLevel(logging.INFO)
    settings = _settings(data_dir=data_dir, database_url=database_url)
    job_worker = Worker(settings, name=name)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    console.print(
        f"worker {job_worker.id} on {settings.database_url or job_worker.store.data_dir}; Ctrl-C stops it"
    )
    job_worker.run(stop)
