"""graders/run and graders/validate through the official client; saved graders (openrft)."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai.types.fine_tuning.alpha import GraderRunResponse, GraderValidateResponse

from tests.server.conftest import STRING_CHECK

MULTI = {
    "type": "multi",
    "name": "both",
    "graders": {
        "exact": {**STRING_CHECK, "operation": "eq"},
        "close": {
            "type": "text_similarity",
            "name": "close",
            "input": "{{sample.output_text}}",
            "reference": "{{item.answer}}",
            "evaluation_metric": "fuzzy_match",
        },
    },
    "calculate_output": "0.5 * exact + 0.5 * close",
}
PYTHON = {
    "type": "python",
    "name": "length",
    "source": "def grade(sample, item):\n    return min(1.0, len(sample['output_text']) / item['n'])\n",
}
needs_sandbox = pytest.mark.needs("root", "bwrap")


def test_run_a_string_check(client):
    result = client.fine_tuning.alpha.graders.run(
        grader=STRING_CHECK, model_sample="abc", item={"answer": "b"}
    )
    assert isinstance(result, GraderRunResponse)
    assert result.reward == 1.0 and result.metadata.name == "exact" and result.metadata.type == "string_check"
    assert not any(v for k, v in result.metadata.errors.model_dump().items() if isinstance(v, bool))
    miss = client.fine_tuning.alpha.graders.run(grader=STRING_CHECK, model_sample="xyz", item={"answer": "b"})
    assert miss.reward == 0.0


def test_run_a_multi_grader_reports_sub_rewards(client):
    result = client.fine_tuning.alpha.graders.run(
        grader=MULTI, model_sample="Paris", item={"answer": "Paris"}
    )
    assert result.reward == pytest.approx(1.0)
    assert result.sub_rewards == {"exact": 1.0, "close": pytest.approx(1.0)}
    half = client.fine_tuning.alpha.graders.run(grader=MULTI, model_sample="Pariss", item={"answer": "Paris"})
    assert 0.4 < half.reward < 1.0 and half.sub_rewards["exact"] == 0.0


def test_a_missing_item_variable_is_a_flag_not_an_error(client):
    result = client.fine_tuning.alpha.graders.run(grader=STRING_CHECK, model_sample="abc", item={})
    assert result.reward == 0.0 and result.metadata.errors.invalid_variable_error


def test_validate_echoes_the_grader(client):
    validated = client.fine_tuning.alpha.graders.validate(grader=STRING_CHECK)
    assert isinstance(validated, GraderValidateResponse)
    assert validated.grader.model_dump(exclude_none=True) == STRING_CHECK
    # The SDK types multi.graders as one grader (reference §8.1): read the map from the raw JSON.
    raw = client.fine_tuning.alpha.graders.with_raw_response.validate(grader=MULTI).http_response.json()
    assert raw["grader"]["graders"]["exact"]["operation"] == "eq"
    assert raw["grader"]["calculate_output"] == MULTI["calculate_output"]


@needs_sandbox
def test_python_grader_runs_and_validates_in_the_sandbox(client):
    result = client.fine_tuning.alpha.graders.run(grader=PYTHON, model_sample="abcd", item={"n": 8})
    assert result.reward == pytest.approx(0.5)
    assert client.fine_tuning.alpha.graders.validate(grader=PYTHON).grader is not None
    broken = {**PYTHON, "source": "def grade(sample):\n    return 1.0\n"}
    with pytest.raises(openai.BadRequestError) as caught:
        client.fine_tuning.alpha.graders.validate(grader=broken)
    assert caught.value.body["param"] == "source"  # type: ignore[index]
    # Run reports a failing python grader as a result, as OpenAI does.
    failing = client.fine_tuning.alpha.graders.run(
        grader={**PYTHON, "source": "def grade(sample, item):\n    raise ValueError('bug')\n"},
        model_sample="x",
    )
    assert failing.reward == 0.0 and failing.metadata.errors.python_grader_runtime_error


@pytest.mark.parametrize(
    ("grader", "param"),
    [
        ({**STRING_CHECK, "operation": "contains"}, "operation"),
        ({"type": "nope"}, "type"),
        ({**MULTI, "calculate_output": "exact +"}, "calculate_output"),
        ({**STRING_CHECK, "input": "{{ other.x }}"}, "input"),
    ],
)
def test_invalid_graders_get_a_400_with_the_field(client, grader, param):
    for call in (
        lambda: client.fine_tuning.alpha.graders.validate(grader=grader),
        lambda: client.fine_tuning.alpha.graders.run(grader=grader, model_sample="x"),
    ):
        with pytest.raises(openai.BadRequestError) as caught:
            call()
        assert caught.value.body["param"] == param  # type: ignore[index]


def test_legacy_reference_answer_body(server):
    body = {
        "grader": {**STRING_CHECK, "reference": "{{item.reference_answer}}"},
        "model_sample": "yes",
        "reference_answer": "yes",
    }
    response = httpx.post(
        f"{server.base_url}/fine_tuning/alpha/graders/run", json=body, headers=server.headers
    )
    assert response.status_code == 200 and response.json()["reward"] == 1.0


def test_saved_graders_round_trip(server):
    url = f"{server.base_url}/openrft/graders"
    saved = httpx.post(url, json={"name": "my check", "grader": STRING_CHECK}, headers=server.headers).json()
    assert saved["object"] == "openrft.grader" and saved["grader"]["operation"] == "like"
    listed = httpx.get(url, headers=server.headers).json()
    assert saved["id"] in [g["id"] for g in listed["data"]]
    bad = httpx.post(url, json={"name": "bad", "grader": {"type": "nope"}}, headers=server.headers)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "type"
    gone = httpx.delete(f"{url}/{saved['id']}", headers=server.headers).json()
    assert gone["deleted"] and httpx.get(f"{url}/{saved['id']}", headers=server.headers).status_code == 404
