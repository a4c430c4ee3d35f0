"""Every error path answers in OpenAI's envelope with the right status, and never leaks a traceback."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.server.conftest import STRING_CHECK, run_server


def envelope(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    return body["error"]


def test_a_wrong_or_missing_key_gets_401(server):
    wrong = server.client()
    wrong.api_key = "sk-wrong"
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.models.list()
    assert caught.value.status_code == 401 and caught.value.body["code"] == "invalid_api_key"  # type: ignore[index]
    missing = httpx.get(f"{server.base_url}/models")
    assert missing.status_code == 401 and envelope(missing)["type"] == "invalid_request_error"
    basic = httpx.get(f"{server.base_url}/models", headers={"Authorization": f"Basic {server.key}"})
    assert basic.status_code == 401
    # Auth comes first: a malformed body from a stranger is still a 401.
    garbage = httpx.post(
        f"{server.base_url}/fine_tuning/jobs", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert garbage.status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "content_type", "param"),
    [
        ("/fine_tuning/alpha/graders/validate", b'{"grader": ', "application/json", None),
        ("/fine_tuning/alpha/graders/validate", b"[1, 2]", "application/json", None),
        ("/fine_tuning/alpha/graders/validate", b"grader=x", "text/plain", None),
        ("/fine_tuning/alpha/graders/validate", b"{}", "application/json", "grader"),
        ("/fine_tuning/alpha/graders/run", b'{"grader": {}}', "application/json", "model_sample"),
        ("/fine_tuning/jobs", b'{"model": 3, "training_file": "f"}', "application/json", "model"),
        (
            "/chat/completions",
            b'{"model": "tiny", "messages": [{"role": "robot"}]}',
            "application/json",
            "messages[0].role",
        ),
        (
            "/evals",
            b'{"data_source_config": {}, "testing_criteria": []}',
            "application/json",
            "testing_criteria",
        ),
    ],
)
def test_malformed_bodies_get_400_naming_the_field(server, path, body, content_type, param):
    response = httpx.post(
        f"{server.base_url}{path}", content=body, headers={**server.headers, "Content-Type": content_type}
    )
    assert response.status_code == 400
    error = envelope(response)
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert "Traceback" not in error["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/files/file-doesnotexist000"),
        ("GET", "/files/..%2F..%2Fetc%2Fpasswd/content"),
        ("DELETE", "/files/file-doesnotexist000"),
        ("GET", "/fine_tuning/jobs/ftjob-nope"),
        ("POST", "/fine_tuning/jobs/ftjob-nope/cancel"),
        ("GET", "/fine_tuning/jobs/ftjob-nope/events"),
        ("GET", "/fine_tuning/jobs/ftjob-nope/checkpoints"),
        ("GET", "/evals/eval_nope"),
        ("GET", "/evals/eval_nope/runs/evalrun_nope"),
        ("GET", "/models/ft:nope:openrft::x"),
        ("GET", "/openrft/graders/grader_nope"),
    ],
)
def test_unknown_ids_get_404(server, method, path):
    response = httpx.request(method, f"{server.base_url}{path}", headers=server.headers)
    assert response.status_code == 404
    assert envelope(response)["type"] == "invalid_request_error"


def test_unknown_urls_and_methods(server):
    assert httpx.get(f"{server.base_url}/nothing-here", headers=server.headers).status_code == 404
    wrong_method = httpx.put(f"{server.base_url}/files", headers=server.headers)
    assert wrong_method.status_code == 405 and "PUT /v1/files" in envelope(wrong_method)["message"]


def test_unknown_pagination_cursor_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.list(after="file-notinthelist")
    assert caught.value.body["param"] == "after"  # type: ignore[index]


def test_an_unexpected_failure_is_a_500_without_details(tmp_path, monkeypatch):
    with run_server(tmp_path / "data") as fresh:
        state = fresh.app.state.openrft

        def broken(*args, **kwargs):
            raise RuntimeError("secret internal detail")

        monkeypatch.setattr(state.files, "list", broken)
        response = httpx.get(f"{fresh.base_url}/files", headers=fresh.headers)
        assert response.status_code == 500
        error = envelope(response)
        assert error["type"] == "server_error" and "secret" not in error["message"]
        # The server keeps serving.
        ok = httpx.post(
            f"{fresh.base_url}/fine_tuning/alpha/graders/validate",
            json={"grader": STRING_CHECK},
            headers=fresh.headers,
        )
        assert ok.status_code == 200
