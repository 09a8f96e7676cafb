"""The evidence pack shows what happened in a window, in a fixed order, within the token budget."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.analysis import evidence, fallback
from alerts.analysis.evidence import Window
from alerts.tests.incident_data import store_incident
from servers.models import Server

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def incident(web01, now):
    store_incident(web01, now)
    return web01


def _window(now, server, minutes=30, **kwargs) -> Window:
    return Window.lookback(minutes, end=now + timedelta(seconds=1), server_ids=[str(server.id)], **kwargs)


def test_the_pack_holds_series_logs_events_docker_and_agent_alerts(incident, now):
    pack = evidence.build(_window(now, incident))
    cpu = pack["series"][0]
    assert cpu["server"] == "web-01" and cpu["series"] == "cpu.usage"
    assert cpu["window"]["max"] == 97 and cpu["window"]["last"] == 96
    assert 20 <= cpu["baseline"]["mean"] <= 22
    assert cpu["change_pct"] > 100 and cpu["z"] > 10  # 20 quiet minutes and 10 hot ones in the window
    assert pack["log_counts"] == {"ERROR": 42, "INFO": 5}
    [template] = pack["log_templates"]
    assert template["template"] == "Database timeout after <*> ms on query <*>"
    assert template["count"] == 42 and template["services"] == ["web-app"]
    assert template["example"] == "Database timeout after 1041 ms on query 41"  # the oldest line
    assert template["first_seen"] < template["last_seen"]
    assert len(pack["error_samples"]) == evidence.MAX_ERROR_SAMPLES
    assert pack["error_samples"][0]["message"] == "Database timeout after 1000 ms on query 0"  # newest first
    [event] = pack["events"]
    assert event["reasons"] == ["response_time 8200 exceeds 5000"] and event["decision"] == "ESCALATE"
    assert pack["docker_events"][0]["data"]["action"] == "die"
    assert pack["agent_alerts"][0]["data"] == {"alert": "cpu above 95%"}
    [snapshot] = pack["snapshots"]
    assert snapshot["server"] == "web-01" and snapshot["score"] == 0.3
    assert [p["name"] for p in snapshot["top_processes"]] == ["java", "postgres"]
    assert pack["scope"] == {"servers": ["web-01"], "services": "all", "focus_areas": []}
    assert "omitted" not in pack
    assert pack["approx_tokens"] <= 6000


def test_the_same_data_gives_the_same_pack(incident, now):
    assert evidence.build(_window(now, incident)) == evidence.build(_window(now, incident))


def test_focus_areas_put_matching_series_first(incident, now):
    pack = evidence.build(_window(now, incident, focus_areas=["memory"]))
    assert pack["series"][0]["series"] == "ram.usage_percent"


def test_a_small_budget_cuts_the_least_telling_lists_first(incident, now):
    full = evidence.build(_window(now, incident), budget=100_000)
    small = evidence.build(_window(now, incident), budget=full["approx_tokens"] - 200)
    assert small["approx_tokens"] <= full["approx_tokens"] - 200
    assert small["omitted"]["error_samples"] > 0
    assert small["series"] == full["series"]
    tiny = evidence.build(_window(now, incident), budget=50)
    assert tiny["series"] == [] and tiny["omitted"]["series"] == 2


def test_another_servers_data_stays_out(incident, now):
    other = Server.objects.create(hostname="db-01")
    pack = evidence.build(_window(now, other))
    assert pack["series"] == [] and pack["log_counts"] == {} and pack["events"] == [] and pack["snapshots"] == []


def test_a_quiet_window_reads_normal(web01, now):
    result = fallback.analyse(evidence.build(_window(now, web01)))
    assert result.severity == "NORMAL"
    assert result.recommendations == ["No action needed; keep watching the dashboards."]


def test_the_rule_based_reading_names_what_moved_and_what_to_do(incident, now):
    result = fallback.analyse(evidence.build(_window(now, incident)))
    assert result.severity == "CRITICAL"
    assert result.key_findings[0].startswith("cpu.usage on web-01: mean")
    assert any("42 error lines of 47" in finding for finding in result.key_findings)
    assert any("Database timeout after <*> ms" in finding for finding in result.key_findings)
    assert "Docker events: 1× die (containers: worker-1)." in result.key_findings
    assert "Agents raised local alerts: 1× cpu above 95%." in result.key_findings
    cpu_advice = next(text for text in result.recommendations if "CPU on web-01" in text)
    assert "java (pid 4242) at 88.5% CPU" in cpu_advice
    assert "Check the slow endpoint's dependencies" in result.recommendations
    assert result == fallback.analyse(evidence.build(_window(now, incident)))
