"""Terminal rendering shared by commands: score summaries, histograms, model names, comparisons."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table

from openrft.evals import describe_difference
from openrft.graders import RunGraderResponse

BAR = "█"
_COLORS = ("cyan", "magenta", "green", "yellow", "blue", "red")


def _squeeze(text: str, width: int) -> str:
    """``text`` cut in the middle when too long: both ends stay readable."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[-(width - 1 - head) :]


def display_names(names: Sequence[str], *, width: int = 40) -> dict[str, str]:
    """A short, still unique and recognisable name for each model (for table headers): a long path
    keeps its last parts (``…/job/best``), and a long name keeps both ends."""
    out = {name: name for name in names}
    for name in names:
        if len(name) <= width:
            continue
        parts = name.rstrip("/").split("/")
        for keep in range(min(2, len(parts)), len(parts) + 1):
            candidate = _squeeze("…/" + "/".join(parts[-keep:]) if keep < len(parts) else name, width)
            if candidate not in out.values() or keep == len(parts):
                out[name] = candidate
                break
    return out if len(set(out.values())) == len(out) else {name: name for name in names}


def histogram_table(values: Sequence[float], *, bins: int = 10, width: int = 40) -> Table:
    """A text histogram of scores: one row per bin with its range, a bar and the count."""
    low, high = min(values), max(values)
    if low >= 0 and high <= 1:
        low, high = 0.0, 1.0
    span = (high - low) or 1.0
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / span * bins))] += 1
    peak = max(counts) or 1
    table = Table(title="score histogram", show_header=True, header_style="bold", box=None)
    table.add_column("score", justify="right")
    table.add_column("", no_wrap=True)
    table.add_column("n", justify="right")
    for index, count in enumerate(counts):
        left = low + span * index / bins
        right = low + span * (index + 1) / bins
        closing = "]" if index == bins - 1 else ")"
        table.add_row(
            f"[{left:.2f}, {right:.2f}{closing}", "[cyan]" + BAR * round(count / peak * width), str(count)
        )
    return table


def histograms_table(summary: Mapping[str, Any], *, width: int = 80) -> Table:
    """Every model's answer counts over the eval's shared bins: one bar column per model, headed by
    its name (kept whole up to two header lines). ``width``: the terminal's."""
    histograms = {model: s["histogram"] for model, s in summary["models"].items()}
    edges = summary["histogram_edges"]
    peak = max((max(counts) for counts in histograms.values()), default=0) or 1
    bar_width = max(6, (width - 16 - 7 * len(histograms)) // max(1, len(histograms)))
    names = display_names(list(histograms), width=2 * bar_width)
    table = Table(title="score histogram (answers per bin)", header_style="bold", box=None)
    table.add_column("score", justify="right", no_wrap=True)
    for k, model in enumerate(histograms):
        table.add_column(names[model], style=_COLORS[k % len(_COLORS)], overflow="fold", max_width=bar_width)
        table.add_column("n", justify="right", no_wrap=True)
    for index in range(len(edges) - 1):
        closing = "]" if index == len(edges) - 2 else ")"
        cells = [f"[{edges[index]:.2f}, {edges[index + 1]:.2f}{closing}"]
        for counts in histograms.values():
            cells += [BAR * round(counts[index] / peak * bar_width), str(counts[index])]
        table.add_row(*cells)
    return table


def comparison_lines(comparison: Mapping[str, Any], names: Mapping[str, str]) -> list[str]:
    """What a comparison says, in words: win/tie/loss and, per measure, whether the gain is real."""
    c = comparison
    other, base = names.get(c["other"], c["other"]), names.get(c["base"], c["base"])
    lines = [
        f"[bold]{other}[/] against [bold]{base}[/]: win {c['win']} · tie {c['tie']} · loss {c['loss']} "
        f"on {c['items']} items (tie within ±{c['tie_tolerance']:g})",
        f"  combined score: {describe_difference(comparison.get('significance'))}",
    ]
    criteria = comparison.get("criteria") or {}
    for name, stats in criteria.items():
        if len(criteria) > 1 or stats.get("sub_graders"):
            lines.append(f"  {name}: {describe_difference(stats or None)}")
        for sub, sub_stats in (stats.get("sub_graders") or {}).items():
            lines.append(f"    {sub}: {describe_difference(sub_stats)}")
        if "all_sub_graders_passed" in stats:
            lines.append(
                f"    every sub-grader passed: {describe_difference(stats['all_sub_graders_passed'])}"
            )
    return lines


def summary_table(responses: Sequence[RunGraderResponse]) -> Table:
    """Mean, spread and error counts by type of a batch of grader results."""
    rewards = [r.reward for r in responses]
    errors: Counter[str] = Counter(flag for r in responses for flag in r.metadata.errors.raised())
    table = Table(title="summary", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("samples", str(len(rewards)))
    table.add_row("mean reward", f"{statistics.fmean(rewards):.4f}")
    table.add_row("std", f"{statistics.pstdev(rewards):.4f}")
    table.add_row("min / max", f"{min(rewards):.4f} / {max(rewards):.4f}")
    table.add_row("samples with errors", str(sum(1 for r in responses if r.metadata.errors.raised())))
    for flag, count in errors.most_common():
        table.add_row(f"  {flag}", f"[red]{count}[/]")
    return table
