"""Property-based fuzzing of the served OpenAPI document (schemathesis): no request gets a 5xx.

Every operation the document lists is called with generated inputs (valid and invalid
bodies, paths, query strings), with a valid key; whatever comes back must be below 500, match
the document (status, content type, body schema), and every 4xx must be in OpenAI's envelope.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.server.conftest import API_KEY

# The reply must match the document (status, content type, headers, body schema), and input the
# document rules out must be refused. Input the document allows may still be refused: a JSONL
# upload or a grader is checked beyond what a schema can say (positive_data_acceptance is off).
DOCUMENT_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Any:
    from openrft.server import ServerSettings, create_app

    app = create_app(
        ServerSettings(
            data_dir=tmp_path_factory.mktemp("fuzz"),
            models={"tiny": str(tiny_model_dir)},
            allowed_hosts=["testserver"],  # the Host name of schemathesis's in-process client
        ),
        api_keys=[API_KEY],
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.slow
def test_no_generated_request_gets_a_server_error(api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 30  # files, jobs, graders, evals, runs, models, chat, responses

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same inputs on every run: a failure here is reproducible
            database=None,
        )
        def no_server_error(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {API_KEY}"})
            assert response.status_code < 500, (
                case.method,
                case.formatted_path,
                case.body,
                response.text[:500],
            )
            case.validate_response(response, checks=DOCUMENT_CHECKS)
            if 400 <= response.status_code < 500:
                error = response.json()["error"]
                assert set(error) == {"message", "type", "param", "code"} and error["message"]

        no_server_error()
