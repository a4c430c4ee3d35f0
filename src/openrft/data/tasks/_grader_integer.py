"""Grader for integer answers (clinical-scores; runs as an OpenAI python grader, standard library only).

The answer is the last integer in the text that is not part of a word or of a decimal, so
"The CURB-65 score is 3." and "3" both read as 3, and "CHA2DS2-VASc" holds no number. 1.0 when
it equals ``item["reference_answer"]``, 0 otherwise, including when the text holds no integer.
"""

import re

# An optional sign, then digits; neither may continue a word ("CURB-65", "CHA2DS2") or a decimal.
INTEGER = re.compile(r"(?:(?<![\w.\-−])[-−]|(?<![\w.\-−]))\d+(?![\w.]*\d)")


def last_integer(text):
    """The last integer in ``text`` (a minus sign or U+2212 makes it negative), or None."""
    found = INTEGER.findall(text)
    return int(found[-1].replace("−", "-")) if found else None


def grade(sample, item):
    return 1.0 if last_integer(sample["output_text"]) == int(item["reference_answer"]) else 0.0
