"""The OpenAPI schema fuzzed with schemathesis: whatever a client sends, no 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.deps import ServingState
from api.main import create_app
from creditops.prometheus import server_command
from creditops.supervision import Service, http_answers

from ..conftest import wait_for

# The schema does not depend on the database, so the app is built at import and
# pointed at the test database by the fixture below.
app = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def prometheus(settings, tmp_path_factory):
    """An empty Prometheus where the settings point: the service panels query it."""
    server = Service("prometheus", server_command(settings), url=settings.prometheus_base_url)
    server.start(tmp_path_factory.mktemp("prometheus"))
    try:
        wait_for(lambda: http_answers(f"{settings.prometheus_base_url}/-/ready", timeout=2), 60)
        yield
    finally:
        server.process.terminate()
        server.process.wait(30)


@pytest.fixture(autouse=True)
def serve_the_test_database(settings, recorded_model, prometheus):
    app.state.serving = ServingState(settings)
    yield
    app.state.serving.close()


@schema.parametrize()
@hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_request_makes_the_service_fail(case):
    # Every check but one: some schema-valid requests are rightly refused by
    # rules JSON Schema cannot state (start <= end; a cursor must be one we issued).
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
