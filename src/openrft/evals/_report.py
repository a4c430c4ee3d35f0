"""``report.html``: one self-contained page (inline SVG charts by matplotlib, no CDN, no script).

Model outputs are untrusted text: everything printed goes through :func:`html.escape`.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from typing import Any

from openrft.evals._metrics import BINS

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:1100px;padding:0 1rem;color:#0f172a}
table{border-collapse:collapse;margin:.5rem 0 1.2rem;font-size:.9rem}
th,td{border:1px solid #e2e8f0;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f1f5f9}pre{white-space:pre-wrap;margin:0;max-width:32rem;font-size:.8rem}
.verdict{padding:.5rem .8rem;border-radius:6px;background:#f1f5f9}
.ok{background:#dcfce7}.bad{background:#fee2e2}
figure{margin:0}.charts{display:flex;flex-wrap:wrap;gap:1rem}.charts svg{max-width:100%;height:auto}
"""


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _figure(width: float = 6.0, height: float = 3.2) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "openrft"  # stable ids: the same summary gives the same file
    return plt.subplots(figsize=(width, height))


def histogram_chart(models: Mapping[str, Any]) -> str:
    fig, ax = _figure()
    edges = [i / BINS for i in range(BINS + 1)]
    for name, summary in models.items():
        ax.stairs(summary["histogram"], edges, fill=len(models) == 1, alpha=0.5, label=name, linewidth=2)
    ax.set_xlabel("combined score")
    ax.set_ylabel("answers")
    ax.set_title("Score distribution")
    ax.legend()
    return _svg(fig)


def criteria_chart(models: Mapping[str, Any]) -> str:
    names = list(next(iter(models.values()))["criteria"])
    fig, ax = _figure()
    width = 0.8 / len(models)
    for k, (model, summary) in enumerate(models.items()):
        xs = [i + k * width for i in range(len(names))]
        means = [summary["criteria"][n]["mean"] for n in names]
        errs = [summary["criteria"][n]["std_across_runs"] for n in names]
        ax.bar(xs, means, width, yerr=errs, capsize=4, label=model)
    ax.set_xticks([i + width * (len(models) - 1) / 2 for i in range(len(names))], names)
    ax.set_ylabel("mean reward (± std across runs)")
    ax.set_title("Per criterion")
    ax.legend()
    return _svg(fig)


def delta_chart(comparison: Mapping[str, Any]) -> str:
    deltas = sorted(d["delta"] for d in comparison["deltas"])
    fig, ax = _figure()
    ax.bar(range(len(deltas)), deltas, color=["#16a34a" if d > 0 else "#dc2626" for d in deltas])
    ax.axhline(0, color="#475569", linewidth=1)
    ax.set_xlabel("items, sorted by delta")
    ax.set_ylabel("score delta (other − base)")
    ax.set_title(f"{comparison['other']} against {comparison['base']}")
    return _svg(fig)


def _e(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_report(summary: Mapping[str, Any], *, title: str) -> str:
    """The whole report page for an eval summary (see :func:`openrft.evals.summarize`)."""
    models = summary["models"]
    parts = [f"<!doctype html><html lang=en><meta charset=utf-8><title>{_e(title)}</title>"]
    parts.append(f"<style>{_STYLE}</style><h1>{_e(title)}</h1>")
    rows = [
        [
            _e(m),
            f"{_e(s['mean'])} ± {_e(s['std_across_runs'])}",
            _e(s["pass_rate"]),
            _e(s["items"]),
            _e(s["runs"]),
            _e(s["errored_records"]),
            _e(s["tokens"]["completion_mean"]),
            _e(s["tokens"]["reasoning_mean"]),
        ]
        for m, s in models.items()
    ]
    headers = [
        "model",
        "mean ± std across runs",
        "pass rate",
        "items",
        "runs",
        "errored",
        "tokens",
        "reasoning",
    ]
    parts.append(_table(headers, rows))
    for m, s in models.items():
        r = s["readiness"]
        css = "ok" if r["ready"] else "bad" if r["ready"] is False else ""
        parts.append(f"<p class='verdict {css}'><b>RFT readiness of {_e(m)}:</b> {_e(r['verdict'])}</p>")
    parts.append("<div class=charts>")
    parts.append(f"<figure>{histogram_chart(models)}</figure><figure>{criteria_chart(models)}</figure>")
    parts.extend(f"<figure>{delta_chart(c)}</figure>" for c in summary.get("comparisons", []))
    parts.append("</div>")
    for c in summary.get("comparisons", []):
        parts.append(
            f"<h2>{_e(c['other'])} against {_e(c['base'])}</h2><p>win {c['win']} · tie {c['tie']} · "
            f"loss {c['loss']} on {c['items']} items; mean delta {_e(c['mean_delta'])}</p>"
        )
    for m, s in models.items():
        parts.append(f"<h2>{_e(m)}</h2>")
        errors = [[_e(k), _e(v)] for k, v in s["errors"].items()] or [["none", "0"]]
        parts.append(_table(["error", "count"], errors))
        worst = [
            [
                _e(w["line"]),
                _e(w["mean_score"]),
                f"<pre>{_e(w['output'])}</pre>",
                f"<pre>{_e(w['reference'])}</pre>",
            ]
            for w in s["worst_items"]
        ]
        parts.append(
            "<h3>Worst items</h3>" + _table(["line", "mean score", "prediction", "reference"], worst)
        )
    parts.append("</html>\n")
    return "".join(parts)
