"""Seed 003's LLM-assisted monitoring: the model's severity and explanation beside the rules' verdict.

Groq is played by a real local HTTP server speaking its API (fake_groq.py).
"""

from __future__ import annotations

import orjson
import pytest
from django.core.cache import cache

from alerts.analysis import spend
from alerts.analysis.event_review import review_events
from alerts.tests.fake_groq import Reply, error_body
from monitoring import events
from monitoring.models import Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_llm_budget")]


@pytest.fixture
def groq_server(background_groq):
    return background_groq


def submit(data: dict) -> int:
    event_id, _, _ = events.record(events.Submitted("api_module", "api_response", data))
    return event_id


def reviews(*items: tuple[int, str, str]) -> Reply:
    body = {"reviews": [{"id": i, "severity": s, "explanation": e, "recommendation": ""} for i, s, e in items]}
    return Reply(content=orjson.dumps(body).decode())


def test_warning_and_critical_events_get_the_models_review_in_one_call(groq_server, api):
    slow = submit({"response_time": 6500, "status_code": 200})
    broken = submit({"response_time": 12000, "status_code": 500, "output": "success"})
    normal = submit({"response_time": 120, "status_code": 200})
    groq_server.queue(
        reviews(
            (broken, "CRITICAL", "A 500 with a success body after 12 s: the handler hides its failures."),
            (slow, "NORMAL", "6.5 s once, with a 200: a slow request, not an outage."),
        )
    )

    assert review_events() == {"reviewed": 2, "unusable": 0}

    [request] = groq_server.requests
    sent = orjson.loads(request["json"]["messages"][1]["content"])["events"]
    assert sorted(e["id"] for e in sent) == sorted([slow, broken])  # never the NORMAL one
    assert {e["rule_verdict"]["status"] for e in sent} <= {"WARNING", "CRITICAL"}
    by_id = {e["id"]: e for e in api.get("/api/v1/monitoring/logs?limit=10").json()["logs"]}
    slow_event = by_id[slow]
    assert slow_event["status"] == "WARNING"  # the rules' verdict stands
    assert slow_event["llm_review"]["severity"] == "NORMAL"
    assert slow_event["llm_review"]["explanation"].startswith("6.5 s once")
    assert slow_event["llm_review"]["model"] == "openai/gpt-oss-120b"
    assert by_id[normal]["llm_review"] is None

    assert review_events() == {"reviewed": 0}  # reviewed once
    assert len(groq_server.requests) == 1


def test_an_event_the_model_skips_is_marked_and_not_asked_again(groq_server):
    first = submit({"response_time": 6500})
    second = submit({"response_time": 7000})
    groq_server.queue(reviews((first, "WARNING", "Slow.")))
    assert review_events() == {"reviewed": 1, "unusable": 1}
    assert "error" in Event.objects.get(id=second).llm_review
    assert review_events() == {"reviewed": 0}


def test_a_429_leaves_the_events_for_a_later_round(groq_server, settings):
    settings.LLM_COOLDOWN_SECONDS = 60
    slow = submit({"response_time": 6500})
    groq_server.queue(Reply(status=429, body=error_body(429, "Rate limit reached")))
    assert review_events()["reviewed"] == 0
    assert review_events()["skipped"].startswith("Groq asked us to slow down")
    assert len(groq_server.requests) == 1
    assert Event.objects.get(id=slow).llm_review is None

    cache.delete(spend.COOLDOWN_KEY)  # the cooldown is over
    groq_server.queue(reviews((slow, "WARNING", "Slow.")))
    assert review_events() == {"reviewed": 1, "unusable": 0}


def test_without_llm_monitoring_nothing_is_sent(groq_server, settings):
    settings.ENABLE_LLM_MONITORING = False
    submit({"response_time": 6500})
    assert review_events()["reviewed"] == 0
    assert groq_server.requests == []


def test_the_events_page_shows_the_review_beside_the_verdict(groq_server, client, bob):
    slow = submit({"response_time": 6500})
    groq_server.queue(reviews((slow, "NORMAL", "One slow request, nothing more.")))
    review_events()
    client.force_login(bob)
    page = client.get("/console/events").content.decode()
    assert "One slow request, nothing more." in page
    assert "model: NORMAL" in page
