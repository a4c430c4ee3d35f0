"""Terminal rendering shared by commands: score summaries and histograms."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

from rich.table import Table

from openrft.graders import RunGraderResponse

BAR = "█"


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
