"""Example tasks: the builders are deterministic, the committed files are what they build, and the
graders give the reference answer full marks and a wrong answer less."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openrft.data import compute_stats, load_rft_jsonl
from openrft.data.tasks import TASKS, build_task, generate_task
from openrft.data.tasks import _grader_humaneval as humaneval_grader
from openrft.data.tasks import _grader_icd10 as icd10_grader
from openrft.data.tasks import _grader_integer as integer_grader
from openrft.errors import InvalidRequestError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
no_sandbox = pytest.mark.needs("root", "bwrap")


def sample(text: str) -> dict[str, str]:
    return {"output_text": text}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_committed_example_is_exactly_what_the_builder_writes(tmp_path, name):
    committed = EXAMPLES / name
    train = load_rft_jsonl(committed / "train.jsonl", split="train")
    valid = load_rft_jsonl(committed / "valid.jsonl", split="valid")
    files = build_task(name, tmp_path, n_train=len(train), n_valid=len(valid), seed=0)
    written = [files.train, files.valid, files.grader, files.readme]
    if files.response_format:
        written.append(files.response_format)
    assert (files.response_format is None) == (not (committed / "response_format.json").exists())
    for path in written:
        assert path.read_bytes() == (committed / path.name).read_bytes(), f"{name}/{path.name} is stale"


@pytest.mark.parametrize("name", sorted(TASKS))
def test_examples_are_valid_balanced_and_disjoint(name):
    train = load_rft_jsonl(EXAMPLES / name / "train.jsonl", split="train")
    valid = load_rft_jsonl(EXAMPLES / name / "valid.jsonl", split="valid")
    assert train.warnings == [] and valid.warnings == []
    prompts = {json.dumps(r.messages) for r in train.rows}
    assert not prompts & {json.dumps(r.messages) for r in valid.rows}
    for dataset in (train, valid):
        stats = compute_stats(dataset.rows)
        assert stats.warnings == [] and stats.answer_rows == len(dataset)
    readme = (EXAMPLES / name / "README.md").read_text()
    source = TASKS[name].source
    assert f"`{source.package}` package, version {source.version}" in readme
    assert f"--data examples/{name}/valid.jsonl --grader examples/{name}/grader.json --runs 3" in readme


def test_builders_are_deterministic_for_a_seed():
    for name in TASKS:
        first = generate_task(name, n_train=6, n_valid=3, seed=7)
        again = generate_task(name, n_train=6, n_valid=3, seed=7)
        other = generate_task(name, n_train=6, n_valid=3, seed=8)
        assert (first.train, first.valid, first.grader) == (again.train, again.valid, again.grader)
        assert first.train != other.train
        assert len(first.train) == 6 and len(first.valid) == 3


def test_bad_requests_name_the_problem():
    with pytest.raises(InvalidRequestError, match="unknown task 'nope': use one of humaneval"):
        generate_task("nope")
    with pytest.raises(InvalidRequestError, match="humaneval has 164 problems; asked for 200"):
        generate_task("humaneval", n_train=150, n_valid=50)
    with pytest.raises(InvalidRequestError, match="at least 1"):
        generate_task("icd10-coding", n_valid=0)


def test_clinical_scores_spread_answers_and_match_the_calculators():
    data = generate_task("clinical-scores", n_train=90, n_valid=10, seed=3)
    rows = data.train + data.valid
    by_calculator: dict[str, set[int]] = {}
    for row in rows:
        by_calculator.setdefault(row["calculator"], set()).add(row["reference_answer"])
    assert by_calculator["CURB-65"] == set(range(6))
    assert len(by_calculator["CHA2DS2-VASc"]) >= 8
    assert len(by_calculator["Centor (McIsaac)"]) >= 6


def test_triage_notes_state_every_sign_in_varied_order_and_wording():
    rows = generate_task("triage-vitals", n_train=40, n_valid=5, seed=2).train
    orders, wordings = set(), set()
    for row in rows:
        note, v = row["messages"][1]["content"], row["reference_answer"]
        assert note.startswith(f"{v['age']}-year-old")
        assert f"{v['systolic_bp']}/{v['diastolic_bp']}" in note
        assert f" {v['heart_rate']}" in note and f" {v['respiratory_rate']}" in note
        assert v["diastolic_bp"] <= v["systolic_bp"] - 20
        signs = note.split("Vitals: ", 1)[1].rstrip(".").split(", ")
        assert len(signs) == 5  # the five asked for, less age, plus temperature and saturation
        orders.add(tuple(s.split()[0] for s in signs))
        wordings.update(s.split()[0] for s in signs)
    assert len(orders) > 20  # the position of a sign never gives it away
    assert {"HR", "pulse", "heart", "BP", "blood", "RR", "breathing", "respiratory"} <= wordings


def test_triage_grader_scores_each_field():
    from openrft.graders import grade_batch, validate_grader
    from openrft.models import GenerationOptions

    data = generate_task("triage-vitals", n_train=1, n_valid=1, seed=0)
    item = data.train[0]
    right = item["reference_answer"]
    swapped = {**right, "diastolic_bp": right["systolic_bp"]}
    grader = validate_grader(data.grader)
    texts = [json.dumps(right), json.dumps(swapped), json.dumps(right)[:-1], "age 40"]
    results = grade_batch(grader, [(text, item) for text in texts])
    assert [r.reward for r in results] == [1.0, 0.8, 0.0, 0.0]
    assert results[1].metadata.scores["diastolic_bp"] == 0.0 and results[1].metadata.scores["age"] == 1.0
    assert [r.metadata.errors.sample_parse_error for r in results] == [False, False, True, True]
    schema = GenerationOptions(response_format=data.spec.response_format).json_schema
    assert schema is not None and schema["required"] == list(right)


def test_icd10_rows_list_the_answer_among_four_candidates():
    rows = generate_task("icd10-coding", n_train=20, n_valid=5, seed=1).train
    for row in rows:
        assert len(set(row["candidates"])) == 4 and row["reference_answer"] in row["candidates"]
        for code in row["candidates"]:
            assert code in row["messages"][1]["content"]


# --- the grader sources, called in-process (the sandboxed run is below) ---------------------


@pytest.mark.parametrize(
    ("text", "reward"),
    [
        ("K61.4", 1.0),
        ("k614", 1.0),
        ("The code is K61.4 Intrasphincteric abscess.", 1.0),
        ("K61", 0.5),  # the condition at a lower specificity
        ("K61.41", 0.5),  # ... or a higher one
        ("K61.1", 0.0),  # a sibling is another condition
        ("K58.0", 0.0),
        ("K61.4 or K61.1", 0.0),
        ("A01.1, I10, K61.4, M70.879", 0.0),  # every code at once: hedging
        ("I am not sure", 0.0),
    ],
)
def test_icd10_grader(text, reward):
    assert icd10_grader.grade(sample(text), {"reference_answer": "K61.4"}) == reward


@pytest.mark.parametrize(
    ("text", "reward"),
    [
        ("M70.879Other bursitis of unspecified foot", 1.0),  # glued to its description
        ("m70879", 1.0),
        ("M70.87 Other bursitis", 0.5),  # not a candidate: read by the general pattern
        ("M70.871Other bursitis, right foot", 0.0),  # the sibling candidate
        ("M70.879 or M70.871", 0.0),
        ("I10, K61.4, M70.879", 0.0),  # one candidate among other codes: still a list
        ("M70.8791", 0.5),  # runs on into another digit: not the candidate
    ],
)
def test_icd10_grader_looks_for_the_candidates_first(text, reward):
    item = {"reference_answer": "M70.879", "candidates": ["M70.871", "M70.879", "M65.9", "M77.9"]}
    assert icd10_grader.grade(sample(text), item) == reward


@pytest.mark.parametrize(
    ("text", "reward"),
    [("3", 1.0), ("The CURB-65 score is 3.", 1.0), ("CURB-65: 2", 0.0), ("3.5", 0.0), ("", 0.0)],
)
def test_integer_grader(text, reward):
    assert integer_grader.grade(sample(text), {"reference_answer": 3}) == reward
    assert integer_grader.grade(sample("score −1"), {"reference_answer": -1}) == 1.0


HUMANEVAL_ITEM = {
    "prompt": 'def add(a, b):\n    """Sum."""\n',
    "entry_point": "add",
    "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n",
}


@pytest.mark.parametrize(
    ("text", "reward"),
    [
        ("```python\ndef add(a, b):\n    return a + b\n```", 1.0),
        ("Here:\n```py\ndef helper():\n    pass\n```\n```python\ndef add(a, b):\n    return b + a\n```", 1.0),
        ("    return a + b\n", 1.0),  # a bare body under the prompt's signature
        ("```python\ndef add(a, b):\n    return a - b\n```", 0.0),
        ("```python\ndef add(a, b):\n    raise SystemExit(0)\n```", 0.0),
        ("```python\ndef add(a, b)\n    return a + b\n```", 0.0),
    ],
)
def test_humaneval_grader(text, reward):
    assert humaneval_grader.grade(sample(text), HUMANEVAL_ITEM) == reward


def test_humaneval_grader_stops_an_endless_loop(monkeypatch):
    import time

    monkeypatch.setattr(humaneval_grader, "TIME_LIMIT", 0.3)
    started = time.monotonic()
    looping = "```python\ndef add(a, b):\n    while True:\n        pass\n```"
    assert humaneval_grader.grade(sample(looping), HUMANEVAL_ITEM) == 0.0
    assert time.monotonic() - started < 3


# --- through the sandbox, as openrft eval and training run them ------------------------------


def _wrong_answer(name: str, item: dict) -> str:
    if name == "icd10-coding":
        return next(c for c in item["candidates"] if c[:3] != item["reference_answer"][:3])
    if name == "clinical-scores":
        return str(item["reference_answer"] + 1)
    if name == "triage-vitals":
        return json.dumps({field: value + 1 for field, value in item["reference_answer"].items()})
    return item["prompt"] + "    return None\n"


@pytest.mark.sandbox
@no_sandbox
@pytest.mark.parametrize("name", sorted(TASKS))
def test_example_grader_gives_the_reference_full_marks(name):
    from openrft.graders import grade_batch, validate_grader

    grader = validate_grader(json.loads((EXAMPLES / name / "grader.json").read_text()))
    rows = load_rft_jsonl(EXAMPLES / name / "valid.jsonl", split="valid").rows
    answers = [
        json.dumps(r.item["reference_answer"]) if name == "triage-vitals" else str(r.item["reference_answer"])
        for r in rows
    ]
    right = grade_batch(grader, [(a, r.item) for a, r in zip(answers, rows, strict=True)])
    wrong = grade_batch(grader, [(_wrong_answer(name, r.item), r.item) for r in rows])
    assert [r.reward for r in right] == [1.0] * len(rows), [r.metadata.errors for r in right if r.reward < 1]
    assert max(r.reward for r in wrong) == 0.0
    assert not any(r.metadata.errors.raised() for r in right + wrong)
