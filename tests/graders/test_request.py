from openrft.graders import RunGraderRequest, run_grader

GRADER = {
    "type": "string_check",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "operation": "eq",
}


def test_current_body():
    body = RunGraderRequest.model_validate(
        {"grader": GRADER, "model_sample": "4", "item": {"reference_answer": "4"}}
    )
    assert run_grader(body.grader, body.model_sample, body.item).reward == 1.0


def test_legacy_reference_answer_becomes_item_field():
    for legacy in ("4", 4, {"x": 1}, [1, 2]):
        body = RunGraderRequest.model_validate(
            {"grader": GRADER, "model_sample": "4", "reference_answer": legacy}
        )
        assert body.item == {"reference_answer": legacy}
    body = RunGraderRequest.model_validate({"grader": GRADER, "model_sample": "4", "reference_answer": "4"})
    assert run_grader(body.grader, body.model_sample, body.item).reward == 1.0
