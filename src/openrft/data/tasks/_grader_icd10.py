"""Grader for the icd10-coding task (runs as an OpenAI python grader; standard library only).

1.0 when the answer names exactly the expected code, 0.5 when it names the same condition at
another level of specificity (a code that the expected one extends, like K61 for K61.4, or one
that extends it), 0 otherwise. A sibling (K61.1 for K61.4) scores 0: the candidates include one,
and paying for it would reward picking the wrong line. An answer that names several different
codes scores 0: hedging is not coding.
"""

import re

CODE = re.compile(r"\b([A-Z][0-9][0-9A-Z])(?:\.?([0-9A-Z]{1,4}))?\b")


def codes_in(text):
    """The ICD-10-CM-shaped codes in ``text``, without dots, upper case."""
    return {match.group(1) + (match.group(2) or "") for match in CODE.finditer(text.upper())}


def grade(sample, item):
    found = codes_in(sample["output_text"])
    if len(found) != 1:
        return 0.0
    answer = found.pop()
    expected = item["reference_answer"].replace(".", "").upper()
    if answer == expected:
        return 1.0
    return 0.5 if expected.startswith(answer) or answer.startswith(expected) else 0.0
