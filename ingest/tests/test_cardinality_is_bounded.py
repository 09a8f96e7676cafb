"""An agent sends labels that grow without bound: the console refuses, naming the limit."""

import pytest

from monitoring.models import Sample, Series

pytestmark = pytest.mark.django_db


def _metrics(*label_sets, name="usage") -> dict:
    return {
        "metrics": [
            {"metric_type": "cpu", "metric_name": name, "value": 1.0, "labels": labels} for labels in label_sets
        ]
    }


def _refused(response, status: int, limit: str) -> None:
    assert response.status_code == status, response.content
    assert limit in response.json()["detail"]
    assert not Sample.objects.exists()


def test_more_labels_than_the_limit_is_400_naming_it(agent, web01):
    labels = {f"l{n}": "v" for n in range(33)}

    _refused(agent.post("/api/v1/ingest", _metrics(labels), content_type="application/json"), 400, "SERIES_MAX_LABELS")


def test_a_label_name_over_the_limit_is_400_naming_it(agent, web01):
    response = agent.post("/api/v1/ingest", _metrics({"x" * 129: "v"}), content_type="application/json")

    _refused(response, 400, "SERIES_MAX_LABEL_NAME_CHARS")


def test_a_label_value_over_the_limit_is_400_naming_it(agent, web01):
    response = agent.post("/api/v1/ingest", _metrics({"path": "x" * 1025}), content_type="application/json")

    _refused(response, 400, "SERIES_MAX_LABEL_VALUE_CHARS")


def test_labels_within_the_limits_are_stored(agent, web01):
    labels = {f"{'n' * 120}{n}": "v" * 1024 for n in range(2)}

    response = agent.post("/api/v1/ingest", _metrics(labels), content_type="application/json")

    assert response.status_code == 202, response.content


def test_too_many_new_series_in_a_minute_is_429_with_retry_after(agent, web01, settings):
    settings.SERIES_MAX_NEW_PER_MINUTE = 5
    first = agent.post(
        "/api/v1/ingest", _metrics(*({"pid": str(n)} for n in range(5))), content_type="application/json"
    )
    second = agent.post("/api/v1/ingest", _metrics({"pid": "99"}), content_type="application/json")

    assert first.status_code == 202
    assert second.status_code == 429
    assert second["Retry-After"] == "60"
    assert "SERIES_MAX_NEW_PER_MINUTE" in second.json()["detail"]
    assert Series.objects.count() == 5


def test_more_series_than_a_server_may_have_is_400_and_known_series_still_write(agent, web01, settings):
    settings.SERIES_MAX_PER_SERVER = 3
    known = _metrics(*({"core": str(n)} for n in range(3)))
    assert agent.post("/api/v1/ingest", known, content_type="application/json").status_code == 202

    one_more = agent.post("/api/v1/ingest", _metrics({"core": "3"}), content_type="application/json")
    again = agent.post("/api/v1/ingest", known, content_type="application/json")

    assert one_more.status_code == 400
    assert "SERIES_MAX_PER_SERVER" in one_more.json()["detail"]
    assert again.status_code == 202
    assert Series.objects.count() == 3
    assert Sample.objects.count() == 6
