"""Schemathesis against the API's own OpenAPI document: generated requests, in process.

No generated request may cause a server error, and every response must match what the schema
documents (status codes, content types, bodies).
"""

from __future__ import annotations

import pytest

from clbp_chat.web.server import create_app

from .conftest import engine_with


@pytest.fixture(scope="module")
def api_schema(engine, tmp_path_factory):
    # Imported here, not at the top: only the slow tier pays seconds for Schemathesis.
    import schemathesis

    local = engine_with(engine, data_dir=tmp_path_factory.mktemp("fuzz-data"), rate_limit=0)
    app = create_app(local.settings, local)
    app.state.clbp.load()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return schema.include(path_regex=r"^/(api/|healthz)")


# Driven through Hypothesis directly: schemathesis' pytest plugin does not run on this pytest
# ('Function' object has no attribute '_nodeid').
@pytest.mark.slow
def test_generated_requests_get_no_server_error_and_match_the_schema(api_schema):
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings

    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/ask", "/api/feedback", "/healthz"}
    for operation in operations:

        @hypothesis_settings(
            max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy())
        def check(case):
            case.call_and_validate()

        check()
