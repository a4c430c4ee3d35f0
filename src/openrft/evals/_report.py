"""``report.html``: one self-contained page for an eval summary, readable offline.

Charts are inline SVG drawn by matplotlib (its object API, no pyplot state); the page has no
script and loads nothing: no CDN, no fonts, no images. Model outputs, prompts and references are
untrusted text, so every value printed goes through :func:`html.escape`.
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from openrft.evals._significance import CONFIDENCE, describe_difference, format_p

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:1150px;padding:0 1rem;color:#0f172a}
table{border-collapse:collapse;margin:.5rem 0 1.2rem;font-size:.9rem}
th,td{border:1px solid #e2e8f0;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f1f5f9}
pre{white-space:pre-wrap;word-break:break-word;margin:0;max-width:30rem;font-size:.8rem}
.verdict{padding:.5rem .8rem;border-radius:6px;background:#f1f5f9}
.ok{background:#dcfce7}.bad{background:#fee2e2}
figure{margin:0}.charts{display:flex;flex-wrap:wrap;gap:1rem}.charts svg{max-width:100%;height:auto}
.muted{color:#64748b;font-size:.85rem}
"""
_COLORS = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2")
_SVG_TAG = re.compile(r"<svg\b[^>]*>")


def _svg(fig: Any) -> str:
    """The figure as an ``<svg>`` element to inline: no XML prolog, DTD, metadata or namespaces.

    HTML parses inline SVG (``xlink:href`` included) without namespace declarations, so the
    page holds no URL at all.
    """
    buffer = io.StringIO()
    fig.savefig(
        buffer,
        format="svg",
        bbox_inches="tight",
        metadata={"Creator": None, "Date": None, "Format": None, "Type": None},
    )
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    return _SVG_TAG.sub(lambda m: re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", m.group(0)), text, count=1)


def _draw(draw: Any, width: float = 6.0, height: float = 3.4) -> str:
    import matplotlib
    from matplotlib.figure import Figure

    # Stable ids (the same summary gives the same file) and text kept as text, not glyph paths.
    with matplotlib.rc_context({"svg.hashsalt": "openrft", "svg.fonttype": "none", "font.size": 9}):
        fig = Figure(figsize=(width, height))
        draw(fig.subplots())
        return _svg(fig)


def histogram_chart(summary: Mapping[str, Any]) -> str:
    """Score histogram of every model over the same bins, overlaid."""
    models, edges = summary["models"], summary["histogram_edges"]

    def draw(ax: Any) -> None:
        for k, (name, s) in enumerate(models.items()):
            color = _COLORS[k % len(_COLORS)]
            ax.stairs(s["histogram"], edges, fill=len(models) == 1, alpha=0.45, color=color, label=name)
            if len(models) > 1:
                ax.stairs(s["histogram"], edges, color=color, linewidth=2)
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel("combined score (mean of the criteria rewards)")
        ax.set_ylabel("answers (count)")
        ax.set_title("Score distribution")
        ax.legend(title="model", fontsize=8)

    return _draw(draw)


def criteria_chart(summary: Mapping[str, Any]) -> str:
    """Mean reward per criterion and model, with the std across runs as error bars."""
    models = summary["models"]
    names = [c["name"] for c in summary["criteria"]]

    low, high = summary["score_range"]

    def draw(ax: Any) -> None:
        width = 0.8 / len(models)
        top = high
        for k, (model, s) in enumerate(models.items()):
            xs = [i + k * width for i in range(len(names))]
            means = [s["criteria"][n]["mean"] for n in names]
            errs = [s["criteria"][n]["std_across_runs"] for n in names]
            ax.bar(xs, means, width, yerr=errs, capsize=4, label=model, color=_COLORS[k % len(_COLORS)])
            top = max([top, *(m + e for m, e in zip(means, errs, strict=True))])
        ax.set_ylim(min(0.0, low), top * 1.05 if top > 0 else 1.0)
        ax.set_xticks([i + width * (len(models) - 1) / 2 for i in range(len(names))], names)
        ax.set_xlabel("testing criterion")
        ax.set_ylabel("mean reward (error bar: std across runs)")
        ax.set_title("Per criterion")
        ax.legend(title="model", fontsize=8)

    return _draw(draw)


def delta_chart(comparison: Mapping[str, Any]) -> str:
    """Every item's delta of mean score, sorted, with the tie band shaded."""
    deltas = sorted(d["delta"] for d in comparison["deltas"])
    tol = comparison["tie_tolerance"]

    def draw(ax: Any) -> None:
        from matplotlib.patches import Patch

        colors = ["#16a34a" if d > tol else "#dc2626" if d < -tol else "#94a3b8" for d in deltas]
        ax.bar(range(len(deltas)), deltas, color=colors, width=0.9)
        ax.axhspan(-tol, tol, color="#e2e8f0", zorder=0)
        ax.axhline(0, color="#475569", linewidth=0.8)
        reach = max([2 * tol, *(abs(d) for d in deltas)]) * 1.1 or 1.0
        ax.set_ylim(-reach, reach)
        stats = comparison.get("significance") or {}
        handles = []
        if stats.get("ci_low") is not None:
            ax.axhspan(stats["ci_low"], stats["ci_high"], color="#2563eb", alpha=0.15, zorder=0)
            ax.axhline(stats["mean_delta"], color="#2563eb", linewidth=1, linestyle="--")
            share = f"{stats['confidence']:.0%}"
            handles.append(Patch(color="#93c5fd", label=f"mean Δ and its {share} CI"))
        ax.set_xlabel("items, sorted by delta")
        ax.set_ylabel("Δ mean score (other − base)")
        ax.set_title(f"{comparison['other']} against {comparison['base']}")
        handles += [
            Patch(color="#16a34a", label=f"win ({comparison['win']})"),
            Patch(color="#94a3b8", label=f"tie, |Δ| ≤ {tol:g} ({comparison['tie']})"),
            Patch(color="#dc2626", label=f"loss ({comparison['loss']})"),
        ]
        ax.legend(handles=handles, fontsize=8)

    return _draw(draw)


def _e(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False)
    return html.escape(value)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table of cells that are already escaped HTML."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _messages(prompt: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(f"[{m.get('role')}] {_text(m.get('content'))}" for m in prompt)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _models_table(models: Mapping[str, Any]) -> str:
    headers = ["model", "mean ± std (runs)", "item spread", "pass rate", "pass@runs", "items × runs"]
    headers += ["errored", "prompt tok.", "completion tok.", "reasoning tok.", "truncated"]
    rows = [
        [
            _e(m),
            f"{_e(s['mean'])} ± {_e(s['std_across_runs'])}",
            _e(s["item_spread_mean"]),
            _pct(s["pass_rate"]),
            _pct(s["pass_at_runs"]),
            f"{s['items']} × {s['runs']}",
            _e(s["errored_records"]),
            _e(s["tokens"]["prompt_mean"]),
            _e(s["tokens"]["completion_mean"]),
            _e(s["tokens"]["reasoning_mean"]),
            _pct(s["truncated_fraction"]),
        ]
        for m, s in models.items()
    ]
    return _table(headers, rows)


def _criteria_table(summary: Mapping[str, Any]) -> str:
    rows = []
    for m, s in summary["models"].items():
        for c in summary["criteria"]:
            stats = s["criteria"][c["name"]]
            rows.append(
                [
                    _e(m),
                    _e(c["name"]),
                    _e(c["type"]),
                    f"{_e(stats['mean'])} ± {_e(stats['std_across_runs'])}",
                    _e(stats["item_spread_mean"]),
                    f"{_pct(stats['pass_rate'])} (≥ {stats['pass_threshold']:g})",
                    _pct(stats.get("all_sub_graders_pass_rate")),
                    _e(stats["errored_records"]),
                ]
            )
    headers = ["model", "criterion", "type", "mean ± std (runs)", "item spread", "pass rate"]
    headers += ["every sub-grader passed", "errored"]
    return _table(headers, rows)


def _readiness_table(models: Mapping[str, Any]) -> str:
    measures = [
        ("items with the same score on every run", "zero_variance_fraction"),
        ("items at the floor", "floor_fraction"),
        ("items at the ceiling", "ceiling_fraction"),
        ("answers at the floor", "answers_at_floor_fraction"),
        ("answers at the ceiling", "answers_at_ceiling_fraction"),
        ("most common reference answer", "label_skew"),
    ]
    rows = [
        [html.escape(label), *(_pct(s["readiness"][key]) for s in models.values())] for label, key in measures
    ]
    rows.append(
        ["whole set saturated", *(_e(s["readiness"]["set_saturated"] or "no") for s in models.values())]
    )
    return _table(["measure", *models], rows)


def _worst_table(worst: Sequence[Mapping[str, Any]]) -> str:
    rows = [
        [
            _e(w["line"]),
            f"{_e(w['mean_score'])}<br><span class=muted>worst run {w['run']}: {_e(w['score'])}</span>",
            f"<pre>{_e(_messages(w['prompt']))}</pre>",
            f"<pre>{_e(w['output'])}</pre>",
            f"<pre>{_e(_text(w['reference']))}</pre>",
        ]
        for w in worst
    ]
    return _table(["line", "mean score", "prompt", "prediction (worst run)", "reference"], rows)


def _verdict_class(stats: Mapping[str, Any] | None) -> str:
    """``ok`` for a gain beyond noise, ``bad`` for a loss beyond noise, else nothing."""
    if not stats or not stats.get("significant"):
        return ""
    return "ok" if stats["ci_low"] > 0 else "bad"


def _significance_rows(comparison: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any] | None]]:
    """(what, stats) for the combined score, each criterion, sub-grader and every-part-right share."""
    rows: list[tuple[str, Mapping[str, Any] | None]] = [("combined score", comparison.get("significance"))]
    for name, stats in (comparison.get("criteria") or {}).items():
        rows.append((name, stats or None))
        for sub, sub_stats in (stats.get("sub_graders") or {}).items():
            rows.append((f"{name} · {sub}", sub_stats))
        if "all_sub_graders_passed" in stats:
            rows.append((f"{name} · every sub-grader passed", stats["all_sub_graders_passed"]))
    return rows


def _significance_table(comparison: Mapping[str, Any]) -> str:
    rows = []
    for what, stats in _significance_rows(comparison):
        if not stats:
            continue
        interval = "—" if stats["ci_low"] is None else f"[{stats['ci_low']:+.3f}, {stats['ci_high']:+.3f}]"
        css = (
            ""
            if stats["includes_zero"] in (None, True)
            else " class=ok"
            if stats["ci_low"] > 0
            else " class=bad"
        )
        rows.append(
            [
                _e(what),
                _e(stats["base_mean"]),
                _e(stats["other_mean"]),
                f"{stats['mean_delta']:+.3f}",
                f"<span{css}>{interval}</span>",
                format_p(stats["wilcoxon_p"]),
                format_p(stats["sign_test_p"]),
                _e(stats["verdict"]),
            ]
        )
    share = f"{CONFIDENCE:.0%}"
    headers = ["measure", comparison["base"], comparison["other"], "Δ mean", f"{share} CI of Δ"]
    return _table([*headers, "Wilcoxon p", "sign test p", "verdict"], rows)


def render_report(summary: Mapping[str, Any], *, title: str) -> str:
    """The whole page for an eval summary (see :func:`openrft.evals.summarize`)."""
    models = summary["models"]
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>"]
    parts.append(f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>")
    if not models:
        parts.append("<p>No records.</p></body></html>\n")
        return "".join(parts)
    parts.append(_models_table(models))
    for m, s in models.items():
        r = s["readiness"]
        css = "ok" if r["ready"] else "bad" if r["ready"] is False else ""
        parts.append(f"<p class='verdict {css}'><b>RFT readiness of {_e(m)}:</b> {_e(r['verdict'])}</p>")
    parts.append("<div class=charts>")
    parts.append(f"<figure>{histogram_chart(summary)}</figure><figure>{criteria_chart(summary)}</figure>")
    parts.extend(f"<figure>{delta_chart(c)}</figure>" for c in summary["comparisons"] if c["items"])
    parts.append("</div><h2>Criteria</h2>" + _criteria_table(summary))
    parts.append("<h2>RFT readiness</h2>" + _readiness_table(models))
    for c in summary["comparisons"]:
        stats = c.get("significance")
        css = (
            ""
            if not stats or stats["includes_zero"] in (None, True)
            else "ok"
            if stats["ci_low"] > 0
            else "bad"
        )
        parts.append(
            f"<h2>{_e(c['other'])} against {_e(c['base'])}</h2><p>win {c['win']} · tie {c['tie']} · "
            f"loss {c['loss']} on {c['items']} items (tie: |Δ| ≤ {c['tie_tolerance']:g}); "
            f"mean delta {_e(c['mean_delta'])}</p>"
            f"<p class='verdict {css}'>{_e(describe_difference(stats))}</p>"
            "<p class=muted>Paired over items (the mean of each item's runs): a bootstrap (BCa) interval "
            "of the mean difference and two-sided Wilcoxon signed-rank and sign tests.</p>"
            + _significance_table(c)
        )
    for m, s in models.items():
        parts.append(f"<h2>{_e(m)}</h2>")
        errors = [[_e(k), _e(v)] for k, v in s["errors"].items() if v] or [["none", "0"]]
        parts.append(
            "<h3>Grader errors (answers raising each flag)</h3>" + _table(["flag", "answers"], errors)
        )
        parts.append("<h3>Worst items</h3>" + _worst_table(s["worst_items"]))
    parts.append("</body></html>\n")
    return "".join(parts)
