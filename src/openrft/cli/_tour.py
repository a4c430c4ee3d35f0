"""``openrft graders tour``: every grader type on the embedded default models (the sandbox, the
packaged embedding model and the local judge), graded on one small example each."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from openrft.cli._console import console
from openrft.graders import grade_batch, validate_grader

_SHOWCASE: list[tuple[str, dict[str, Any]]] = [
    (
        "string_check",
        {
            "type": "string_check",
            "name": "exact",
            "input": "{{sample.output_text}}",
            "reference": "{{item.answer}}",
            "operation": "eq",
        },
    ),
    (
        "string_check ilike",
        {
            "type": "string_check",
            "name": "contains",
            "input": "{{sample.output_text}}",
            "reference": "{{item.answer}}",
            "operation": "ilike",
        },
    ),
    *[
        (
            f"text_similarity {metric}",
            {
                "type": "text_similarity",
                "name": metric,
                "input": "{{sample.output_text}}",
                "reference": "{{item.answer}}",
                "evaluation_metric": metric,
            },
        )
        for metric in ("fuzzy_match", "bleu", "gleu", "meteor", "rouge_1", "rouge_l", "cosine")
    ],
    (
        "python (sandboxed)",
        {
            "type": "python",
            "name": "token_f1",
            "source": (
                "from rapidfuzz import fuzz, utils\n"
                "def grade(sample, item):\n"
                "    return fuzz.token_set_ratio(sample['output_text'], item['answer'],\n"
                "                                processor=utils.default_process) / 100\n"
            ),
        },
    ),
    (
        "multi 0.85·fuzzy + 0.15·exact",
        {
            "type": "multi",
            "graders": {
                "phrase": {
                    "type": "text_similarity",
                    "input": "{{sample.output_text}}",
                    "reference": "{{item.answer}}",
                    "evaluation_metric": "fuzzy_match",
                },
                "exact": {
                    "type": "python",
                    "source": "def grade(sample, item):\n"
                    "    return 1.0 if sample['output_text'] == item['answer'] else 0.0\n",
                },
            },
            "calculate_output": "0.85 * phrase + 0.15 * exact",
        },
    ),
    (
        "score_model (local judge)",
        {
            "type": "score_model",
            "name": "judge",
            "model": "gpt-4.1-2025-04-14",
            "input": [
                {"role": "system", "content": "Grade the answer from 0 to 1."},
                {"role": "user", "content": "Reference: {{item.answer}}\nAnswer: {{sample.output_text}}"},
            ],
            "sampling_params": {"temperature": 0, "max_completions_tokens": 48},
        },
    ),
]
_ANSWERS = ["thought withdrawal", "Withdrawal of thought", "gout"]
_ITEM = {"answer": "thought withdrawal"}


def tour() -> None:
    """Grade three answers with every grader type, on the embedded default models."""
    table = Table(title=f"every grader type, reference answer {_ITEM['answer']!r}", header_style="bold")
    table.add_column("grader", no_wrap=True)
    for answer in _ANSWERS:
        table.add_column(repr(answer), justify="right")
    with console.status("grading…"):
        for label, raw in _SHOWCASE:
            grader = validate_grader(raw)
            results = grade_batch(grader, [(answer, _ITEM) for answer in _ANSWERS])
            cells = [
                f"{r.reward:.3f}"
                + (f" [red]{','.join(r.metadata.errors.raised())}[/]" if r.metadata.errors.raised() else "")
                for r in results
            ]
            table.add_row(label, *cells)
    console.print(table)
    console.print(
        "score_model ran on the packaged SmolLM2-135M-Instruct judge (weak but real); set "
        "OPENRFT_JUDGE_BASE_URL to use a real judge.",
        style="dim",
    )
