"""Grader for the icd10-coding task (runs as an OpenAI python grader; standard library only).

1.0 when the answer names exactly the expected code, 0.5 when it names the same condition at
another level of specificity (a code that the expected one extends, like K61 for K61.4, or one
that extends it), 0 otherwise. A sibling (K61.1 for K61.4) scores 0: the candidates include one,
and paying for it would reward picking the wrong line. An answer that names several different
codes scores 0, whether or not they are candidates: hedging is not coding.

The item's candidate codes are looked for first, because a model often glues the description to
the code ("M70.879Other bursitis"), which the general pattern would read as "M70".
"""

import re

CODE = re.compile(r"\b([A-Z][0-9][0-9A-Z])(?:\.?([0-9A-Z]{1,4}))?\b")


def codes_in(text):
    """The ICD-10-CM-shaped codes in ``text``, without dots, upper case."""
    return {match.group(1) + (match.group(2) or "") for match in CODE.finditer(text.upper())}


def candidates_in(text, candidates):
    """The candidate codes (without dots) that ``text`` names, each not run on into more digits."""
    found = set()
    for code in candidates:
        bare = code.replace(".", "").upper()
        spelled = re.escape(bare[:3]) + r"\.?" + re.escape(bare[3:]) if len(bare) > 3 else re.escape(bare)
        if re.search(r"(?<![0-9A-Z])" + spelled + r"(?![0-9])", text.upper()):
            found.add(bare)
    # "K61" inside "K61.4" is not a second pick: keep only codes no other found code extends
    return {c for c in found if not any(o != c and o.startswith(c) for o in found)}


def grade(sample, item):
    text = sample["output_text"]
    found = candidates_in(text, item.get("candidates") or []) or codes_in(text)
    if len(found) != 1:
        return 0.0
    answer = found.pop()
    # Any other code beside the pick (not the pick read shorter, as in "M70.879Other") is a
    # second answer: a list of every code would otherwise find the right one among them.
    if any(not answer.startswith(code) for code in codes_in(text) - {answer}):
        return 0.0
    expected = item["reference_answer"].replace(".", "").upper()
    if answer == expected:
        return 1.0
    return 0.5 if expected.startswith(answer) or answer.startswith(expected) else 0.0
