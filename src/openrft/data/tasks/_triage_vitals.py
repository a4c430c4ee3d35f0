"""triage-vitals: pull the vital signs out of a triage note into JSON (use case: facts into a clean format).

Data: each note opens with a real diagnosis, the description of a billable ICD-10-CM code from
``simple-icd-10-cm``, and states five vital signs drawn from adult ranges, plus a temperature and
an oxygen saturation that are not asked for. Each sign has several wordings ("BP 150/84",
"blood pressure 150/84 mmHg"; "RR 17", "breathing 17 times a minute"), and their order is
shuffled, so a fixed position or a fixed phrase never gives the answer: the model has to read
which number belongs to which sign. The answer is a JSON object under a schema
(``RESPONSE_FORMAT``), so every answer is well-formed from the first step and only the values
can improve.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from openrft.data.tasks._icd10 import SOURCE as ICD10_SOURCE
from openrft.data.tasks._icd10 import _Table
from openrft.data.tasks._spec import TaskSpec

SOURCE = replace(
    ICD10_SOURCE,
    origin=(
        "the diagnoses (descriptions of billable ICD-10-CM codes, April 2026 tabular list); the "
        "vital signs are drawn uniformly from adult ranges for each note."
    ),
)
FIELDS = ("age", "heart_rate", "systolic_bp", "diastolic_bp", "respiratory_rate")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {field: {"type": "integer", "minimum": 0, "maximum": 300} for field in FIELDS},
    "required": list(FIELDS),
    "additionalProperties": False,
}
RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "vital_signs", "strict": True, "schema": SCHEMA},
}
"""OpenAI's ``response_format`` for this task: evals and training decode under it."""
INSTRUCTIONS = "Extract the patient's age and vital signs from the triage note as JSON."
_MAX_DIAGNOSIS_CHARACTERS = 90


def _vitals(rng: random.Random) -> dict[str, int]:
    systolic = rng.randint(80, 190)
    return {
        "age": rng.randint(18, 95),
        "heart_rate": rng.randint(45, 150),
        "systolic_bp": systolic,
        "diastolic_bp": rng.randint(40, min(115, systolic - 20)),
        "respiratory_rate": rng.randint(10, 40),
    }


def _note(diagnosis: str, v: dict[str, int], rng: random.Random) -> str:
    """The note: the diagnosis, then the signs in a random order, each in one of its wordings."""
    hr, sbp, dbp, rr = v["heart_rate"], v["systolic_bp"], v["diastolic_bp"], v["respiratory_rate"]
    temperature = round(rng.uniform(35.8, 40.2), 1)
    saturation = rng.randint(86, 100)
    signs = [
        rng.choice([f"heart rate {hr}/min", f"pulse {hr} beats per minute", f"HR {hr}"]),
        rng.choice([f"blood pressure {sbp}/{dbp} mmHg", f"BP {sbp}/{dbp}"]),
        rng.choice([f"respiratory rate {rr}/min", f"RR {rr}", f"breathing {rr} times a minute"]),
        rng.choice([f"temperature {temperature} °C", f"T {temperature}"]),
        rng.choice([f"SpO2 {saturation}%", f"oxygen saturation {saturation}% on room air"]),
    ]
    rng.shuffle(signs)
    who = rng.choice(["man", "woman"])
    return f"{v['age']}-year-old {who}. Diagnosis: {diagnosis}. Vitals: {', '.join(signs)}."


def make_rows(n: int, rng: random.Random) -> list[dict[str, Any]]:
    table = _Table()
    codes = [c for c in table.codes if len(table.cm.get_description(c)) <= _MAX_DIAGNOSIS_CHARACTERS]
    rows = []
    for code in rng.sample(codes, n):  # distinct diagnoses, so no two notes are the same
        vitals = _vitals(rng)
        rows.append(
            {
                "messages": [
                    {"role": "developer", "content": INSTRUCTIONS},
                    {"role": "user", "content": _note(table.cm.get_description(code), vitals, rng)},
                ],
                "reference_answer": vitals,
                "icd10_code": code,
            }
        )
    return rows


def grader() -> dict[str, Any]:
    """A multi grader: one exact string check per field, averaged (each field's score is logged)."""
    return {
        "type": "multi",
        "name": "vital_signs",
        "graders": {
            field: {
                "type": "string_check",
                "name": field,
                "input": f"{{{{sample.output_json.{field}}}}}",
                "reference": f"{{{{item.reference_answer.{field}}}}}",
                "operation": "eq",
            }
            for field in FIELDS
        },
        "calculate_output": f"({' + '.join(FIELDS)}) / {len(FIELDS)}",
    }


TASK = TaskSpec(
    name="triage-vitals",
    family="pull facts into a clean format (structured extraction under a JSON schema)",
    summary=(
        "A one-line triage note with a diagnosis and seven numbers; answer with the age, heart "
        "rate, systolic and diastolic blood pressure and respiratory rate as a JSON object under "
        "the task's schema. The signs come in a random order and wording, with a temperature and "
        "an oxygen saturation as distractors."
    ),
    source=SOURCE,
    make_rows=make_rows,
    grader=grader,
    default_train=200,
    default_valid=50,
    response_format=RESPONSE_FORMAT,
    details="""## Grader

A multi grader (`grader.json`): one `string_check` per field comparing
`{{sample.output_json.FIELD}}` with `{{item.reference_answer.FIELD}}`, averaged. Each field's
score is reported on its own (in evals and in training metrics), so you can see which sign the
model confuses. An answer that is not complete JSON scores 0 with a `sample_parse_error`.

## Response format

Sample under `response_format.json` (a JSON schema of five integers from 0 to 300): the local
backends decode under it, so every answer parses and has the five keys, and only the values can
be wrong.

## Measured baseline

SmolLM2-135M-Instruct on the 50 validation rows, greedy under the schema (64 tokens): mean
reward 0.516, every field right on 1 row in 50; age 1.00, heart rate 0.32, systolic 0.66,
diastolic 0.12 (it mostly copies another number), respiratory rate 0.48. `openrft demo` trains
it on this task: 14 GRPO steps lift a held-out mean of 0.550 to 0.792.""",
)
