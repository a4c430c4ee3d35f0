"""clinical-scores: apply a clinical scoring rule to a patient note (use case: complex rules applied).

Data: the calculators of ``medcalc-bench`` (the reference implementations of MedCalc-Bench).
Each row picks one of three scores, a target value uniformly from its range, and samples patient
findings until the package's calculator returns that value; the calculator's answer is the
reference. Targets are drawn uniformly so that no score value dominates (a model that always
answers the most common value would otherwise look like it learned something). The rule is
stated in the developer turn, as a policy would be; the model has to apply it to the findings.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openrft.data.tasks._spec import DataSource, TaskSpec, grader_source

SOURCE = DataSource(
    package="medcalc-bench",
    version="1.7.0",
    module="medcalc",
    licence="Apache-2.0",
    origin=(
        "the clinical calculators of MedCalc-Bench (CURB-65, CHA2DS2-VASc and the McIsaac-modified "
        "Centor score here), which compute each reference answer from the sampled findings."
    ),
)
_ATTEMPTS = 5000


@dataclass(frozen=True)
class Score:
    name: str
    rule: str
    values: range
    sample: Callable[[random.Random, float], dict[str, Any]]
    """Findings; the float is the chance that each risk factor is present (varied per row)."""
    note: Callable[[dict[str, Any]], str]
    compute: Callable[[dict[str, Any]], int]


def _yes(rng: random.Random, chance: float) -> bool:
    return rng.random() < chance


def _curb65_findings(rng: random.Random, chance: float) -> dict[str, Any]:
    if _yes(rng, chance):  # the blood-pressure point, by a low systolic or a low diastolic alone
        systolic, diastolic = rng.choice(
            [(rng.randint(70, 89), rng.randint(40, 60)), (rng.randint(100, 135), rng.randint(45, 60))]
        )
    else:
        systolic = rng.randint(100, 170)
        diastolic = rng.randint(61, min(100, systolic - 25))
    return {
        "age": (rng.randint(65, 95) if _yes(rng, chance) else rng.randint(20, 64), "years"),
        "confusion": _yes(rng, chance),
        "bun": (float(rng.randint(20, 60) if _yes(rng, chance) else rng.randint(5, 19)), "mg/dL"),
        "respiratory_rate": (
            float(rng.randint(30, 40) if _yes(rng, chance) else rng.randint(12, 29)),
            "breaths per minute",
        ),
        "sys_bp": (float(systolic), "mm hg"),
        "dia_bp": (float(diastolic), "mm hg"),
    }


def _curb65_note(f: dict[str, Any]) -> str:
    mental = "is confused and disoriented" if f["confusion"] else "is alert and oriented"
    return (
        f"A {f['age'][0]}-year-old with community-acquired pneumonia {mental}. Blood pressure "
        f"{f['sys_bp'][0]:.0f}/{f['dia_bp'][0]:.0f} mmHg, respiratory rate "
        f"{f['respiratory_rate'][0]:.0f}/min, blood urea nitrogen {f['bun'][0]:.0f} mg/dL."
    )


def _cha2ds2_findings(rng: random.Random, chance: float) -> dict[str, Any]:
    age = rng.choice([rng.randint(40, 64), rng.randint(65, 74), rng.randint(75, 92)])
    return {
        "age": (age, "years"),
        "sex": "Female" if _yes(rng, 0.5) else "Male",
        **{k: _yes(rng, chance) for k in ("chf", "hypertension", "vascular_disease", "diabetes")},
        **{k: _yes(rng, chance / 3) for k in ("stroke", "tia", "thromboembolism")},
    }


_CHA2DS2_HISTORY = {
    "chf": "congestive heart failure",
    "hypertension": "hypertension",
    "stroke": "a prior stroke",
    "tia": "a transient ischaemic attack",
    "thromboembolism": "a pulmonary embolism",
    "vascular_disease": "a previous myocardial infarction",
    "diabetes": "type 2 diabetes",
}


def _cha2ds2_note(f: dict[str, Any]) -> str:
    history = [text for key, text in _CHA2DS2_HISTORY.items() if f[key]]
    listed = ", ".join(history[:-1]) + (" and " if len(history) > 1 else "") + history[-1] if history else ""
    past = f"History of {listed}." if history else "No relevant past medical history."
    return f"A {f['age'][0]}-year-old {f['sex'].lower()} with newly diagnosed atrial fibrillation. {past}"


def _centor_findings(rng: random.Random, chance: float) -> dict[str, Any]:
    age = rng.choice([rng.randint(3, 14), rng.randint(15, 44), rng.randint(45, 80)])
    fever = round(rng.uniform(38.1, 39.8) if _yes(rng, chance) else rng.uniform(36.4, 38.0), 1)
    return {
        "age": (age, "years"),
        "temperature": (fever, "degrees celsius"),
        "exudate_swelling_tonsils": _yes(rng, chance),
        "tender_lymph_nodes": _yes(rng, chance),
        "cough_absent": _yes(rng, chance),
    }


def _centor_note(f: dict[str, Any]) -> str:
    tonsils = "swollen with white exudate" if f["exudate_swelling_tonsils"] else "not swollen, no exudate"
    nodes = "tender, swollen" if f["tender_lymph_nodes"] else "no tender or swollen"
    cough = "no cough" if f["cough_absent"] else "a dry cough"
    return (
        f"A {f['age'][0]}-year-old with a sore throat for two days and {cough}. Temperature "
        f"{f['temperature'][0]} °C. Tonsils {tonsils}; {nodes} anterior cervical lymph nodes."
    )


def _answer(function_name: str, module: str) -> Callable[[dict[str, Any]], int]:
    def compute(findings: dict[str, Any]) -> int:
        import importlib

        result = getattr(importlib.import_module(module), function_name)(dict(findings))
        return int(result["Answer"])

    return compute


SCORES = (
    Score(
        name="CURB-65",
        rule=(
            "CURB-65 score for pneumonia: 1 point for each of: confusion; blood urea nitrogen above "
            "19 mg/dL; respiratory rate of 30/min or more; systolic blood pressure below 90 mmHg or "
            "diastolic 60 mmHg or less; age 65 or older. The score is the sum (0 to 5)."
        ),
        values=range(0, 6),
        sample=_curb65_findings,
        note=_curb65_note,
        compute=_answer("curb_65_explanation", "medcalc.curb_65"),
    ),
    Score(
        name="CHA2DS2-VASc",
        rule=(
            "CHA2DS2-VASc score for atrial fibrillation: age 65 to 74 scores 1 and age 75 or older 2; "
            "female sex 1; congestive heart failure 1; hypertension 1; prior stroke, transient "
            "ischaemic attack or thromboembolism 2; vascular disease (such as a previous myocardial "
            "infarction) 1; diabetes 1. The score is the sum (0 to 9)."
        ),
        values=range(0, 10),
        sample=_cha2ds2_findings,
        note=_cha2ds2_note,
        compute=_answer("generate_cha2ds2_vasc_explanation", "medcalc.cha2ds2_vasc_score"),
    ),
    Score(
        name="Centor (McIsaac)",
        rule=(
            "Centor score, McIsaac version, for sore throat: age 3 to 14 scores +1, age 15 to 44 "
            "scores 0, age 45 or older scores -1; tonsillar exudate or swelling +1; tender or "
            "swollen anterior cervical lymph nodes +1; temperature above 38 °C +1; no cough +1. "
            "The score is the sum (-1 to 5)."
        ),
        values=range(-1, 6),
        sample=_centor_findings,
        note=_centor_note,
        compute=_answer("compute_centor_score_explanation", "medcalc.centor_score"),
    ),
)


def _row(score: Score, findings: dict[str, Any], answer: int) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "developer", "content": f"{score.rule} Reply with the score only."},
            {"role": "user", "content": f"{score.note(findings)}\nWhat is the {score.name} score?"},
        ],
        "reference_answer": answer,
        "calculator": score.name,
    }


def make_rows(n: int, rng: random.Random) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    while len(rows) < n:
        score = SCORES[len(rows) % len(SCORES)]
        target = rng.choice(score.values)
        for _ in range(_ATTEMPTS):  # rejection sampling towards a uniform spread of answers
            findings = score.sample(rng, rng.random())
            answer = score.compute(findings)
            note = score.note(findings)
            if answer == target and note not in seen:
                break
        if note in seen:
            continue
        seen.add(note)
        rows.append(_row(score, findings, answer))
    return rows


def grader() -> dict[str, Any]:
    return {
        "type": "python",
        "name": "score_value",
        "source": grader_source("openrft.data.tasks._grader_integer"),
    }


TASK = TaskSpec(
    name="clinical-scores",
    family="apply complex rules correctly (as Accordance applies tax rules in OpenAI's RFT guide)",
    summary=(
        "A short patient note and a clinical scoring rule (CURB-65, CHA2DS2-VASc or the McIsaac "
        "Centor score); answer with the score. The reference is computed by MedCalc-Bench's own "
        "calculator, and score values are spread evenly, so guessing a common value does not pay."
    ),
    source=SOURCE,
    make_rows=make_rows,
    grader=grader,
    default_train=200,
    default_valid=50,
    details="""## Grader

A python grader (`grader.json`, source in `openrft/data/tasks/_grader_integer.py`): the last
integer in the answer must equal `reference_answer` (1.0), anything else scores 0. Digits inside
words (`CURB-65`, `CHA2DS2`) and decimals are not read as the answer.

## Measured baseline

See the numbers in `docs/datasets.md` (SmolLM2-135M-Instruct, 20 rows).""",
)
