"""Seed 004's AI log classification: each service's new lines, as templates, classified every interval.

Groq is played by a real local HTTP server speaking its API (fake_groq.py); the
rules answer without a key, when the budget is spent and while Groq cools down.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from alerts.analysis import prompt, spend
from alerts.analysis.log_classifier import classify_logs
from alerts.tests.fake_groq import Reply, error_body
from config.asgi import application
from config.tests.fixtures import write_service_logs
from monitoring import log_classification
from monitoring.models import LogEntry, LogTemplate


@pytest.fixture(autouse=True)
def _fresh_state(fresh_llm_budget):
    log_classification.miners.forget()


@pytest.fixture
def groq_server(background_groq):
    return background_groq


@pytest.fixture
def no_key(settings):
    settings.GROQ_API_KEY = ""
    settings.GROQ_BASE_URL = ""


def checkout_lines(count: int, *, start: datetime | None = None) -> list[tuple[datetime, str, str]]:
    """A service's lines: connection failures, slow requests and normal traffic, in turn."""
    start = start or datetime.now(UTC) - timedelta(milliseconds=100 * count)
    kinds = [
        ("ERROR", "Database connection failed after {n} ms"),
        ("WARNING", "Request to /api/cart took {n} ms"),
        ("INFO", "Served GET /api/cart in {n} ms"),
    ]
    lines = []
    for n in range(count):
        level, text = kinds[n % 3]
        lines.append((start + timedelta(milliseconds=100 * n), level, text.format(n=100 + n)))
    return lines


def groq_says(*items: tuple[str, str, str]) -> Reply:
    """A Groq answer classifying templates 1, 2, ... in the order given."""
    body = {
        "classifications": [
            {"id": n, "category": category, "severity": severity, "reason": reason}
            for n, (category, severity, reason) in enumerate(items, start=1)
        ]
    }
    return Reply(content=orjson.dumps(body).decode())


def by_template() -> dict[str, LogTemplate]:
    return {t.template: t for t in LogTemplate.objects.filter(service="checkout")}


@pytest.mark.django_db
def test_without_a_key_the_rules_classify_every_template(no_key, web01):
    write_service_logs(web01, "checkout", checkout_lines(30))

    report = classify_logs()

    assert report["lines"] == 30 and report["classified_by"] == {"rules": 3}
    found = by_template()
    assert found["Database connection failed after <*> ms"].category == "database"
    assert found["Database connection failed after <*> ms"].severity == "error"
    assert found["Request to /api/cart took <*> ms"].severity == "warning"
    assert found["Served GET /api/cart in <*> ms"].severity == "info"
    assert all(t.classified_by == "rules" and t.count == 10 for t in found.values())
    assert not LogEntry.objects.filter(service="checkout", template__isnull=True).exists()


@pytest.mark.django_db
def test_groq_is_asked_once_per_batch_with_templates_not_lines(groq_server, web01, settings):
    settings.BATCH_SIZE = 60
    write_service_logs(web01, "checkout", checkout_lines(120))
    groq_server.queue(
        groq_says(
            ("database", "critical", "the service cannot reach its database"),
            ("timeout", "warning", "slow cart requests"),
            ("application", "info", "normal traffic"),
        )
    )

    report = classify_logs()

    # two batches of 60 lines; the second one brings no new template, so no second call
    assert report["batches"] == 2 and report["new_templates"] == 3
    [request] = groq_server.requests
    sent = orjson.loads(prompt.fenced_data(request["json"]["messages"][1]["content"]))
    assert sent["service"] == "checkout"
    assert [t["template"] for t in sent["templates"]] == [
        "Database connection failed after <*> ms",
        "Request to /api/cart took <*> ms",
        "Served GET /api/cart in <*> ms",
    ]
    assert sent["templates"][0]["count"] == 20 and sent["templates"][0]["levels"] == {"ERROR": 20}
    database = by_template()["Database connection failed after <*> ms"]
    assert (database.category, database.severity, database.classified_by) == ("database", "critical", "groq")
    assert database.reason == "the service cannot reach its database" and database.count == 40
    assert database.model == settings.GROQ_MODEL


@pytest.mark.django_db
def test_whatever_groq_leaves_out_or_gets_wrong_the_rules_answer(groq_server, web01):
    write_service_logs(web01, "checkout", checkout_lines(9))
    groq_server.queue(groq_says(("database", "catastrophic", "not a severity"), ("timeout", "warning", "slow")))

    classify_logs()

    found = by_template()
    assert found["Request to /api/cart took <*> ms"].classified_by == "groq"
    assert found["Database connection failed after <*> ms"].classified_by == "rules"
    assert found["Served GET /api/cart in <*> ms"].classified_by == "rules"


@pytest.mark.django_db
def test_a_429_cools_groq_down_and_the_rules_answer_meanwhile(groq_server, web01, settings):
    settings.LLM_COOLDOWN_SECONDS = 120
    groq_server.queue(Reply(status=429, body=error_body(429, "Rate limit reached"), headers={"Retry-After": "7"}))
    write_service_logs(web01, "checkout", checkout_lines(3))

    assert classify_logs()["classified_by"] == {"rules": 3}
    assert len(groq_server.requests) == 1  # not retried: the cooldown takes over

    write_service_logs(web01, "payments", [(datetime.now(UTC), "ERROR", "Card processor refused charge 991")])
    assert classify_logs()["classified_by"] == {"rules": 1}
    assert len(groq_server.requests) == 1  # still cooling down: Groq is left alone
    assert 100 < cache.get(spend.COOLDOWN_KEY) - datetime.now(UTC).timestamp() <= 120


@pytest.mark.django_db
def test_the_hours_token_budget_bounds_what_is_sent(groq_server, web01, settings):
    settings.LLM_TOKENS_PER_HOUR = 1200  # one answer of the fake server costs 1,020 tokens
    write_service_logs(web01, "checkout", checkout_lines(3))
    groq_server.queue(groq_says(("database", "error", "db"), ("timeout", "warning", "slow"), ("other", "info", "ok")))
    settings.GROQ_MAX_TOKENS = 100
    classify_logs()
    assert len(groq_server.requests) == 1

    write_service_logs(web01, "payments", [(datetime.now(UTC), "ERROR", "Card processor refused charge 991")])
    assert classify_logs()["classified_by"] == {"rules": 1}
    assert len(groq_server.requests) == 1


@pytest.mark.django_db
def test_the_buffer_keeps_the_newest_lines_of_each_service(no_key, web01, settings):
    settings.MAX_LOG_BATCH_SIZE = 10
    write_service_logs(web01, "checkout", checkout_lines(30))
    assert classify_logs()["lines"] == 10
    newest = LogEntry.objects.filter(service="checkout").order_by("-ts")
    assert all(line.template_id for line in newest[:10])
    assert not any(line.template_id for line in newest[10:20])


@pytest.mark.django_db
def test_switched_off_it_classifies_nothing(no_key, web01, settings):
    settings.AI_CLASSIFICATION_ENABLED = False
    write_service_logs(web01, "checkout", checkout_lines(3))
    assert classify_logs() == {"off": True}
    assert not LogTemplate.objects.exists()


@pytest.mark.django_db
def test_people_read_the_classification_in_logs_analytics_and_health(no_key, web01, api):
    now = datetime.now(UTC)
    write_service_logs(web01, "checkout", [(now - timedelta(seconds=5), "CRITICAL", "Out of memory: killed worker 12")])
    write_service_logs(web01, "checkout", checkout_lines(3))
    classify_logs()

    [line] = api.get("/api/v1/logs?service=checkout&level=CRITICAL").json()["results"]
    assert line["classification"]["category"] == "resource"
    assert line["classification"]["severity"] == "critical"
    assert line["classification"]["template"] == "Out of memory: killed worker <*>"

    patterns = api.get("/api/analytics/errors/patterns?service=checkout").json()["patterns"]
    assert {p["template"]: p["classification"]["category"] for p in patterns} == {
        "Out of memory: killed worker <*>": "resource",
        "Database connection failed after <*> ms": "database",
    }

    health = api.get("/api/health/services/checkout").json()
    assert health["status"] == "unhealthy"
    assert health["classification"]["by_severity"] == {"critical": 1, "error": 1, "warning": 1, "info": 1}
    assert any("classified critical (resource" in reason for reason in health["reasons"])


def test_health_update_frames_carry_the_classification(transactional_db, no_key, web01, bob_token):
    async def scenario():
        socket = WebsocketCommunicator(
            application, f"/api/ws/health?token={bob_token}", headers=[(b"origin", b"http://localhost:8000")]
        )
        connected, _ = await socket.connect(timeout=5)
        assert connected
        assert (await socket.receive_json_from(timeout=5))["type"] == "connected"
        await database_sync_to_async(write_service_logs)(web01, "checkout", checkout_lines(3))
        await database_sync_to_async(classify_logs)()
        while True:
            frame = await socket.receive_json_from(timeout=5)
            if frame["type"] == "health_update" and frame["data"].get("classification"):
                break
        assert frame["data"]["service"] == "checkout"
        assert frame["data"]["classification"]["by_category"] == {"database": 1, "other": 2}
        await socket.disconnect()

    async_to_sync(scenario)()
