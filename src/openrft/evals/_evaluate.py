"""``evaluate``: several models on one dataset into one eval folder, summarised and compared.

What ``openrft eval`` and ``openrft demo`` call: it pins the configuration in the folder (and
resumes an interrupted eval), reuses a previous eval's answers of a model when its fingerprint
matches (same model files, data, graders and sampling settings), samples and grades the rest,
and writes ``summary.json`` and ``report.html``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from openrft.errors import InvalidRequestError
from openrft.evals._criteria import Criterion
from openrft.evals._engine import Row, run_eval
from openrft.evals._folder import EvalFolder, eval_config, reusable_answers, sibling_folders
from openrft.evals._metrics import summarize
from openrft.evals._records import ResultsFile, fingerprint
from openrft.models import GenerationOptions

ModelProgress = Callable[[str, str, int, int], None]
"""``on_progress(model, stage, done, total)``; stage ``loading`` (0, 0), then ``sampled`` and
``graded`` counted in answers."""
Notify = Callable[[str], None]


def _reuse(
    label: str,
    config: Mapping[str, Any],
    store: ResultsFile,
    wanted: int,
    sources: Sequence[Path],
    explicit: Sequence[Path],
    notify: Notify,
) -> None:
    """Copy a previous eval's answers of ``label`` into ``store`` when their fingerprint matches."""
    have = sum(1 for key in store.records if key[0] == label)
    if have >= wanted or not sources:
        return
    records, source, misses = reusable_answers(label, config, sources)
    for miss in misses:
        if any(miss.startswith(f"{path}:") for path in explicit):
            notify(miss)
    if source is not None:
        fresh = [r for r in records if not store.has(r.key)]
        store.add(fresh)
        notify(
            f"reused {len(fresh)} answers of {label} from {source} (same model, data, graders and settings)"
        )


def _sample(
    label: str,
    model: str,
    rows: Sequence[Row],
    criteria: Sequence[Criterion],
    *,
    runs: int,
    options: GenerationOptions,
    store: ResultsFile,
    batch_size: int,
    on_progress: ModelProgress,
) -> None:
    from openrft.models import open_backend

    on_progress(label, "loading", 0, 0)
    backend = open_backend(model)
    try:
        asyncio.run(
            run_eval(
                backend,
                rows,
                criteria,
                n_runs=runs,
                options=options,
                store=store,
                model_name=label,
                batch_size=batch_size,
                on_progress=lambda stage, done, total: on_progress(label, stage, done, total),
            )
        )
    finally:
        backend.close()


def evaluate(
    models: Mapping[str, str],
    rows: Sequence[Row],
    criteria: Sequence[Criterion],
    *,
    data: Path,
    out: Path,
    runs: int = 3,
    options: GenerationOptions | None = None,
    limit: int | None = None,
    batch_size: int = 8,
    reuse: Sequence[Path] = (),
    auto_reuse: bool = True,
    restart_if_changed: bool = False,
    title: str | None = None,
    on_progress: ModelProgress | None = None,
    notify: Notify | None = None,
) -> dict[str, Any]:
    """Evaluate each model (label → model name, folder or URL) and compare them with the first.

    Records are keyed by label. ``reuse`` lists eval folders whose answers may be reused;
    with ``auto_reuse`` the eval folders beside ``out`` are searched too. A folder that holds
    another configuration is refused, or emptied first with ``restart_if_changed``. Returns
    the summary (also written to ``out/summary.json``).
    """
    if runs < 1:
        raise InvalidRequestError(f"runs must be at least 1, not {runs}", param="runs")
    options = options or GenerationOptions()
    rows = list(rows[:limit] if limit else rows)
    notify = notify or (lambda message: None)
    on_progress = on_progress or (lambda *args: None)
    folder = EvalFolder(out)
    config = eval_config(
        models, data, criteria, runs=runs, options=options, limit=limit, batch_size=batch_size
    )
    previous = folder.config()
    if restart_if_changed and previous is not None and previous.get("fingerprint") != fingerprint(config):
        for path in (folder.config_path, folder.results_path):
            path.unlink(missing_ok=True)
    sources = list(dict.fromkeys([*map(Path, reuse), *(sibling_folders(out) if auto_reuse else [])]))
    with folder.open_results(config) as store:
        if store.records:
            notify(f"resuming: {len(store.records)} answers already in {store.path}")
        for label, model in models.items():
            _reuse(label, config, store, len(rows) * runs, sources, reuse, notify)
            if sum(1 for key in store.records if key[0] == label) < len(rows) * runs:
                _sample(
                    label,
                    model,
                    rows,
                    criteria,
                    runs=runs,
                    options=options,
                    store=store,
                    batch_size=batch_size,
                    on_progress=on_progress,
                )
        order = {label: k for k, label in enumerate(models)}
        records = [store.records[k] for k in sorted(store.records, key=lambda k: (order[k[0]], k[1], k[2]))]
    summary = {**summarize(records, criteria), "config": {**config, "data": str(data)}}
    folder.write_summary(summary, title=title or f"Eval of {', '.join(models)} on {Path(data).name}")
    return summary
