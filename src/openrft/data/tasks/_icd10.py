"""icd10-coding: pick the ICD-10-CM code of a diagnosis from four candidates (use case: facts into codes).

Data: the ICD-10-CM tabular list in ``simple-icd-10-cm``. Each row takes one billable code
without a 7th-character extension, states the diagnosis as its official description or, half
of the time when it has one, as one of its inclusion terms (the synonyms a clinician writes,
e.g. "Meningioma NOS" for D32.9), and lists four candidates: the code, a sibling in the same
category when there is one, and codes from the same block (then chapter) as distractors.
"""

from __future__ import annotations

import random
import re
import warnings
from typing import Any

from openrft.data.tasks._spec import DataSource, TaskSpec, grader_source

SOURCE = DataSource(
    package="simple-icd-10-cm",
    version="1.5.0",
    module="simple_icd_10_cm",
    licence="MIT; ICD-10-CM itself is a US-government work in the public domain",
    origin="the April 2026 ICD-10-CM tabular list (codes, descriptions, inclusion terms, hierarchy).",
)
CANDIDATES = 4
MAX_CODE_CHARACTERS = 6
"""Codes of at most 6 characters (without the dot): no 7th-character extension (injury encounters)."""
_CODE_IN_TERM = re.compile(r"\b[A-Z][0-9][0-9A-Z]\b")
INSTRUCTIONS = (
    "You are a medical coder. Pick the ICD-10-CM code that fits the diagnosis from the candidate "
    "codes. Reply with the code only."
)


class _Table:
    """The codes this task draws from, with their category, block and chapter."""

    def __init__(self) -> None:
        with warnings.catch_warnings():  # it loads its data with importlib.resources' legacy API
            warnings.simplefilter("ignore", DeprecationWarning)
            import simple_icd_10_cm as cm

        self.cm = cm
        self.codes = sorted(
            c
            for c in cm.get_all_codes(with_dots=True)
            if cm.is_leaf(c) and len(c.replace(".", "")) <= MAX_CODE_CHARACTERS
        )
        self.block: dict[str, str] = {}
        self.chapter: dict[str, str] = {}
        self.by_category: dict[str, list[str]] = {}
        self.by_block: dict[str, list[str]] = {}
        self.by_chapter: dict[str, list[str]] = {}
        for code in self.codes:
            ancestors = cm.get_ancestors(code)
            # the outermost block: some categories sit in a block of their own name
            block = [a for a in ancestors if cm.is_block(a)][-1]
            self.block[code], self.chapter[code] = block, ancestors[-1]
            self.by_category.setdefault(code[:3], []).append(code)
            self.by_block.setdefault(block, []).append(code)
            self.by_chapter.setdefault(ancestors[-1], []).append(code)

    def distractors(self, code: str, rng: random.Random) -> list[str]:
        """A sibling in the category when there is one, then codes of the block, chapter, table."""
        chosen: list[str] = []
        pools = [
            [c for c in self.by_category[code[:3]] if c != code],
            [c for c in self.by_block[self.block[code]] if c[:3] != code[:3]],
            [c for c in self.by_chapter[self.chapter[code]] if c[:3] != code[:3]],
            self.codes,
        ]
        for depth, pool in enumerate(pools):
            options = [c for c in pool if c not in chosen and c != code]
            take = 1 if depth == 0 else CANDIDATES - 1 - len(chosen)
            chosen += rng.sample(options, min(take, len(options)))
            if len(chosen) == CANDIDATES - 1:
                break
        return chosen

    def phrase(self, code: str, rng: random.Random) -> str:
        """How the diagnosis is stated: the description, or half the time an inclusion term."""
        terms = [
            t
            for t in self.cm.get_inclusion_term(code)
            if len(t) <= 120 and not _CODE_IN_TERM.search(t)  # "Any condition in I00 with…"
        ]
        if terms and rng.random() < 0.5:
            return rng.choice(terms)
        return self.cm.get_description(code)


def make_rows(n: int, rng: random.Random) -> list[dict[str, Any]]:
    table = _Table()
    rows = []
    for code in rng.sample(table.codes, n):
        candidates = [code, *table.distractors(code, rng)]
        rng.shuffle(candidates)
        listing = "\n".join(f"{c} {table.cm.get_description(c)}" for c in candidates)
        rows.append(
            {
                "messages": [
                    {"role": "developer", "content": INSTRUCTIONS},
                    {
                        "role": "user",
                        "content": f"Diagnosis: {table.phrase(code, rng)}\n\nCandidate codes:\n{listing}",
                    },
                ],
                "reference_answer": code,
                "description": table.cm.get_description(code),
                "candidates": candidates,
            }
        )
    return rows


def grader() -> dict[str, Any]:
    return {
        "type": "python",
        "name": "icd10_code",
        "source": grader_source("openrft.data.tasks._grader_icd10"),
    }


TASK = TaskSpec(
    name="icd10-coding",
    family="pull facts into a clean format (ICD-10 coding, as Ambience does in OpenAI's RFT guide)",
    summary=(
        "Given a diagnosis as a clinician might write it and four candidate ICD-10-CM codes, answer "
        "with the code that fits. The distractors are hard on purpose: a sibling code of the same "
        "category (often differing only in laterality, stage or specificity) and codes of the same "
        "block."
    ),
    source=SOURCE,
    make_rows=make_rows,
    grader=grader,
    default_train=200,
    default_valid=50,
    details="""## Grader

A python grader (`grader.json`, source in `openrft/data/tasks/_grader_icd10.py`): 1.0 for the
expected code (with or without the dot, any case), 0.5 for the same condition at another level of
specificity (a prefix of the expected code, like K61 for K61.4, or a code extending it), 0 for
anything else: a sibling of the same category, or an answer that names several codes. The
item's candidate codes are looked for first, so a code glued to its description ("M70.879Other
bursitis") still reads as M70.879. Picking a candidate at random scores 0.25, so a model that
only learns to answer with one code gains nothing.

## Measured baseline

SmolLM2-135M-Instruct on the 50 validation rows (developer turn sent as system, 16 tokens),
mean reward: 0.24 greedy (no better than a random pick), 0.13 at temperature 0.7, 0.06 at
temperature 1.0 (at 1.0 it mostly stops naming a code at all). Short prompts (about 130 tokens)
and answers (one code, under 8 tokens).""",
)
