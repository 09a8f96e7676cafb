"""A developer reads /api/schema/: every ingest and receiver path is there, with its body and the seeds' example."""

import pytest
import yaml

from ingest import examples
from ingest.routes import ROUTES

pytestmark = pytest.mark.django_db

DESCRIBED = {
    "/ingest": ("application/json", examples.SEED000_FULL),
    "/api/v1/ingest": ("application/json", None),
    "/ingest/metrics": ("application/json", examples.SEED002_BODY),
    "/api/logs/stream/{service_name}": ("application/json", examples.SEED004_BATCH),
    "/api/logs/stream/{service_name}/single": ("application/json", examples.SEED004_SINGLE),
    "/api/logs/stream/{service_name}/continuous": ("application/x-ndjson", None),
    "/api/logs/services/register": ("application/json", examples.SEED004_REGISTER),
    "/api/v1/prom/write": ("application/x-protobuf", None),
    "/v1/metrics": ("application/json", examples.OTLP_METRICS),
    "/v1/logs": ("application/json", examples.OTLP_LOGS),
    "/api/v1/collectd": ("application/json", examples.COLLECTD_VALUES),
}


@pytest.fixture
def schema(api):
    response = api.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_every_ingest_and_receiver_path_is_described_with_its_body_and_an_example(schema):
    for path, (media_type, example) in DESCRIBED.items():
        operation = schema["paths"][path]["post"]
        body = operation["requestBody"]["content"][media_type]
        assert operation["security"] == [{"agentToken": []}], path
        if example is not None:
            assert body["example"] == example, path
        elif media_type != "application/x-protobuf":
            assert body["example"], path
        assert {"400", "401", "403", "413", "429", "503"} <= set(operation["responses"]), path


def test_no_ingest_route_is_left_out_of_the_schema(schema):
    served = {"/" + route.pattern.replace("<str:service_name_in_path>", "{service_name}") for route in ROUTES}
    assert served <= set(schema["paths"])


def test_seed003_events_are_described_with_the_seeds_example(schema):
    from monitoring.api.events import SEED003_EVENT

    operation = schema["paths"]["/api/v1/monitoring/events"]["post"]
    body = operation["requestBody"]["content"]["application/json"]
    assert body["examples"]["Seed003"]["value"] == SEED003_EVENT
    assert {"agentToken": []} in operation["security"]


def test_the_schema_validates_without_a_single_warning(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert "/ingest" in yaml.safe_load((tmp_path / "schema.yaml").read_text())["paths"]
