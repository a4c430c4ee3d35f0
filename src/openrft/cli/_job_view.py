"""What the terminal shows of a training job, from its first second to its last.

* the plan (resolved hyperparameters and the number of steps) as soon as the job starts;
* the preflight's progress (a bar on a terminal, a line per stage otherwise);
* on a terminal, a live table of the last steps with the latest step line under it; when stdout
  is a pipe or a file, one plain line per step as it ends (the job log's own line, with the
  time left), since a live table would only appear at the end;
* at the end: which folder to evaluate, how, and whether the best validation beats the first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from openrft.cli._console import console

if TYPE_CHECKING:
    from openrft.training import JobFolder, JobSpec

_PREFLIGHT_STAGES = {
    "exploits": "preflight: grading trivial exploits",
    "sampled": "preflight: sampling the base model",
    "graded": "preflight: grading the base model's answers",
}


def steps_table(rows: list[dict[str, Any]], total: int | None, title: str = "GRPO") -> Table:
    """The live view of a job: its last steps' rewards, zero-variance share, length, errors, time, alarms."""
    step = rows[-1]["step"] if rows else 0
    table = Table(title=f"{title}: step {step}/{total or '?'}")
    for column in (
        "step",
        "train reward",
        "valid reward",
        "zero-variance",
        "tokens",
        "grader errors",
        "seconds",
    ):
        table.add_column(column, justify="right")
    table.add_column("alarms")
    for m in rows[-12:]:
        valid = m["scores"].get("valid_reward_mean")
        table.add_row(
            str(m["step"]),
            f"{m['train_mean_reward']:.3f}",
            "" if valid is None else f"{valid:.3f}",
            f"{m['zero_variance_group_fraction']:.0%}",
            f"{m.get('completion_tokens_mean', 0):.1f}",
            f"{m['grader_error_rate']:.0%}",
            f"{m['timing']['step']['full_iteration']:.1f}",
            " ".join(f"[yellow]{a['alarm']}[/]" for a in m.get("alarms", [])),
        )
    return table


def plan_lines(plan: dict[str, Any]) -> list[str]:
    """The job's resolved hyperparameters, in words."""
    hp, asked = plan["hyperparameters"], plan["requested"]
    full = hp["n_epochs"] * hp["steps_per_epoch"]
    capped = f", capped by max_steps from {full}" if hp["total_steps"] < full else ""
    schedule = asked.get("lr_scheduler", "constant")  # folders written before it was asked
    weights = f"LoRA rank {asked['lora_rank']}" if asked["lora"] else "full weights"
    group = f"{hp['batch_size']} prompts × {hp['num_generations']} completions"
    completions, micro = hp["batch_size"] * hp["num_generations"], hp.get("micro_batch_size")
    if micro and micro < completions:
        group += f" (backward in passes of {micro})"
    return [
        f"plan: {_count(hp['total_steps'], 'step')} ({_count(hp['n_epochs'], 'epoch')} × "
        f"{_count(hp['steps_per_epoch'], 'step')}{capped}) on {plan['prompts']} prompts, {group} a step",
        f"  learning rate {hp['learning_rate']:g} ({schedule}; {weights}), "
        f"temperature {hp['temperature']:g}, completions up to {hp['max_completion_length']} tokens, "
        f"loss {asked['loss_type']}",
        f"  validation every {_count(hp['eval_interval'], 'step', one='')}, "
        f"{_count(hp['eval_samples'], 'answer')} per item",
    ]


def _count(n: int, noun: str, one: str = "1 ") -> str:
    """``n`` ``noun``s in words; ``one`` is what stands before a single one ("every step")."""
    return f"{one}{noun}" if n == 1 else f"{n} {noun}s"


class JobView:
    """Renders a job's events and preflight progress (``on_event``, ``on_progress``) on the console."""

    def __init__(self, title: str = "GRPO"):
        self.title = title
        self.rows: list[dict[str, Any]] = []
        self.total: int | None = None
        self.status: Any = Text("starting: reading the data and loading the model…")
        self.live = console.is_terminal
        self._display = Live(self._render(), console=console, refresh_per_second=4) if self.live else None
        self._started = False
        self._stage: tuple[str, int] | None = None

    def __enter__(self) -> JobView:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._display is not None and self._started:
            self._display.stop()

    def _start(self) -> None:
        """The live table appears with the job's first news (a job refused for bad input shows none)."""
        if self._display is not None and not self._started:
            self._started = True
            self._display.start()

    def _render(self) -> Group:
        return Group(steps_table(self.rows, self.total, self.title), self.status)

    def _update(self) -> None:
        if self._display is not None:
            self._start()
            self._display.update(self._render())

    def print(self, text: str, style: str = "") -> None:
        self._start()
        target = self._display.console if self._display is not None else console
        target.print(Text(text, style=style), soft_wrap=True)

    def on_event(self, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        if "plan" in data:
            self.total = data["plan"]["hyperparameters"]["total_steps"]
            if event["message"].startswith("Resuming"):
                self.print(event["message"])
            for line in plan_lines(data["plan"]):
                self.print(line)
            self.status = Text("loading the model and the grader…")
        elif event["type"] == "metrics":
            self.rows.append(data)
            self.total = data["total_steps"]
            self.status = Text(event["message"])
            if not self.live:
                self.print(event["message"])
        elif event["level"] != "info":
            self.print(event["message"], "yellow")
        elif event["message"].startswith(("Preflight", "Checkpoint", "Rollouts")):
            self.print(event["message"])
        self._update()

    def on_progress(self, stage: str, done: int, total: int) -> None:
        """The preflight's progress: a bar on a terminal, else a line when a stage starts or ends."""
        label = _PREFLIGHT_STAGES.get(stage, f"preflight: {stage}")
        if self.live:
            bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), console=console)
            bar.add_task(label, total=total, completed=done)
            self.status = bar
            self._update()
        elif not self._stage or (done == total and (stage, done) != self._stage):
            self.print(f"{label} ({done}/{total})")
        self._stage = (stage, done)


def validation_gain(folder: JobFolder, best_step: int, grader: dict[str, Any]) -> str | None:
    """The best validation against the first one, on the same items, with its interval in words."""
    from openrft.evals import compare, describe_difference, make_criterion

    steps = folder.validation_steps()
    if best_step not in steps:
        return None
    first = steps[0]
    if first == best_step:
        return f"validation: the best checkpoint is the first validated one (step {first})"
    criterion = make_criterion(grader)
    low, high = criterion.grader.score_range() or (0.0, 1.0)
    before, after = (folder.validation(s) or [] for s in (first, best_step))
    c = compare(before, after, tolerance=0.01 * (high - low), criteria=[criterion])
    stats = c["significance"]
    return (
        f"validation on {c['items']} items: step {first} {stats['base_mean']:.3f} → step {best_step} "
        f"{stats['other_mean']:.3f} (win {c['win']} · tie {c['tie']} · loss {c['loss']}); "
        f"{describe_difference(stats)}"
    )


def report_job(status: str, folder: JobFolder, spec: JobSpec) -> None:
    """How the job ended, which folder to evaluate and how, and what its validations say."""
    out = folder.path
    step = folder.best_step()
    if status == "paused":
        console.print(
            f"job paused; continue with: openrft train --resume {out}", highlight=False, soft_wrap=True
        )
    else:
        console.print(f"job {status}", highlight=False)
    if step is None:
        return
    best = folder.best_dir
    so_far = "" if status == "succeeded" else " so far"
    console.print(f"best checkpoint{so_far}: step {step} → {best}", highlight=False, soft_wrap=True)
    gain = validation_gain(folder, step, spec.grader)
    if gain:
        console.print(gain, highlight=False, soft_wrap=True)
    grader = spec.grader_file or "GRADER.json"
    console.print(
        "evaluate it on held-out items (not the validation file, which chose it):\n"
        f"  openrft eval --model {spec.model} --compare {best} --data TEST.jsonl --grader {grader} "
        f"--out {out / 'eval'}",
        highlight=False,
        soft_wrap=True,
    )
