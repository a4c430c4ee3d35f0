"""Grader for the icd10-coding task (runs as an OpenAI python grader; standard library only).

1.0 when the answer names exactly the expected code, 0.5 when it names another code of the
same three-character category (the right condition at the wrong specificity), 0 otherwise.
An answer that names several different codes scores 0: hedging is not coding.
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
    return 0.5 if answer[:3] == expected[:3] else 0.0
