"""The graders from the seed documents, run unchanged through openrft.

Each expected value is computed inside the test by its own arithmetic, not by running the
grader's source.
"""

import json
from pathlib import Path

import pytest
from rapidfuzz import fuzz, utils

from openrft.graders import make_sample, run_grader, validate_grader

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "graders"
pytestmark = pytest.mark.sandbox


def _load(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def test_chipstack_string_map_f1():
    grader = validate_grader(_load("chipstack_string_map_f1.json"))
    expected = [
        {"name": "BLOCK_SIZE", "value": "8"},
        {"name": "ADDR_WIDTH", "value": "4"},
        {"name": "DATA_WIDTH", "value": "32"},
    ]
    predicted = [{"name": "BLOCK_SIZE", "value": "8"}, {"name": "ADDR_WIDTH", "value": "5"}]
    sample = make_sample(json.dumps({"predicted": predicted}))
    result = run_grader(grader, sample, {"reference_answer": expected})
    # one true positive out of 2 predicted and 3 expected pairs
    assert result.reward == pytest.approx(_f1(1 / 2, 1 / 3))
    assert result.metadata.errors.raised() == []
    perfect = run_grader(
        grader, make_sample(json.dumps({"predicted": expected})), {"reference_answer": expected}
    )
    assert perfect.reward == pytest.approx(1.0)
    # not JSON: the grader indexes sample["output_json"] (None) and raises
    broken = run_grader(grader, "no json here", {"reference_answer": expected})
    assert broken.reward == 0.0
    assert broken.metadata.errors.python_grader_runtime_error
    assert "TypeError" in broken.metadata.errors.python_grader_runtime_error_details


RUNLOOP_OUTPUT = """<plan>Create the customer, then charge it.</plan>
<code>
```typescript src/pay.ts
const customer = await stripe.customers.create({email: "a@example.com"});
const intent = await stripe.paymentIntents.create({amount: 1000, currency: "usd", customer: customer.id});
```
</code>"""


def test_runloop_ast_grep_and_format():
    grader = validate_grader(_load("runloop_ast_grep_format.json"))
    greps = [
        {"file_path_mask": "/home/user/testbed/src", "pattern": "stripe.customers.create($$$)"},
        {
            "file_path_mask": "/home/user/testbed/src",
            "pattern": "stripe.paymentIntents.create($$$)",
            "additional_greps": ["currency"],
        },
        {"file_path_mask": "/home/user/testbed/src", "pattern": "stripe.refunds.create($$$)"},
    ]
    item = {"reference_answer": {"ast_greps": greps}}
    result = run_grader(grader, RUNLOOP_OUTPUT, item)
    # format is perfect (1.0); 2 of the 3 AST patterns match -> (1.0 + 2/3) / 2
    assert result.reward == pytest.approx((1.0 + 2 / 3) / 2)
    # tags present and ordered, but text after </code>: 0.1 + 0.1 + 0.2 = 0.4
    assert run_grader(grader, RUNLOOP_OUTPUT + "\nthanks!", item).reward == pytest.approx(0.4)
    # code block without a path: format 1.0 but extraction fails -> 0.5
    no_path = RUNLOOP_OUTPUT.replace("typescript src/pay.ts", "typescript")
    assert run_grader(grader, no_path, item).reward == pytest.approx(0.5)


def test_harvey_passage_f1():
    grader = validate_grader(_load("harvey_passage_f1.json"))
    refs = ["The lessee shall pay rent monthly.", "Either party may terminate with notice."]
    outs = ["The lessee shall pay rent monthly", "Unrelated boilerplate sentence."]
    result = run_grader(
        grader, make_sample(json.dumps({"passages": outs})), {"reference_answer": {"passages": refs}}
    )

    def best(a: str, bs: list[str]) -> float:
        return max(fuzz.ratio(a, b) / 100 for b in bs)

    recall = sum(best(r, outs) for r in refs) / len(refs)
    precision = sum(best(o, refs) for o in outs) / len(outs)
    assert result.reward == pytest.approx(_f1(precision, recall))
    assert 0 < result.reward < 1
    empty = run_grader(
        grader, make_sample(json.dumps({"passages": []})), {"reference_answer": {"passages": refs}}
    )
    assert empty.reward == 0.0


@pytest.mark.parametrize(
    ("answer", "reference"),
    [
        ("thought withdrawal", "thought withdrawal"),
        ("Withdrawal of thought", "thought withdrawal"),
        ("gouty arthritis", "gout"),
        ("toxoplasma encephalitis", "Toxoplasma encephalitis"),
    ],
)
def test_cookbook_clinical_phrase_multi(answer, reference):
    grader = validate_grader(_load("cookbook_clinical_phrase_multi.json"))
    result = run_grader(grader, answer, {"reference_answer": reference})
    phrase = fuzz.token_set_ratio(answer, reference, processor=utils.default_process) / 100
    binary = 1.0 if answer == reference else 0.0
    assert result.reward == pytest.approx(0.85 * phrase + 0.15 * binary)
    assert result.sub_rewards == pytest.approx({"clinical_phrase": phrase, "clinical_phrase_binary": binary})
    assert result.metadata.type == "multi"
