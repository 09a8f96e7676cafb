"""When a CPU alert fires, the host's process table is frozen onto the alert: page, message, evidence."""

from datetime import timedelta

import orjson
import pytest
from django.conf import settings
from django.utils import timezone

from alerts import tasks
from alerts.analysis import runner
from alerts.choices import AlertState
from alerts.models import Alert, AlertRule, NotificationChannel
from config.tests.fixtures import wait_until, write_series
from monitoring import upkeep
from monitoring.models import Sample, Snapshot

# real worker, real time: seconds each (left out of the PgBouncer re-run of the suite)
pytestmark = [pytest.mark.usefixtures("celery_worker_live"), pytest.mark.slow]

HOG_TABLE = [
    {"pid": 4242, "name": "ffmpeg", "cpu_percent": 88.0, "memory_mb": 900.0},
    {"pid": 17, "name": "postgres", "cpu_percent": 5.5, "memory_mb": 300.0},
    {"pid": 1, "name": "systemd", "cpu_percent": 0.1, "memory_mb": 12.0},
    {"pid": 901, "name": "nginx", "cpu_percent": 1.2, "memory_mb": 40.0},
    {"pid": 902, "name": "node", "cpu_percent": 2.0, "memory_mb": 200.0},
    {"pid": 903, "name": "redis", "cpu_percent": 0.9, "memory_mb": 30.0},
    {"pid": 904, "name": "cron", "cpu_percent": 0.0, "memory_mb": 2.0},
]


def post_table(agent, total, processes):
    body = {"timestamp": timezone.now().timestamp(), "total_cpu_percent": total, "top_processes": processes}
    response = agent.post("/ingest/metrics", orjson.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content


@pytest.fixture
def hook(receiver, settings):
    settings.NOTIFY_WEBHOOK_URL = settings.NOTIFY_SLACK_WEBHOOK_URL = ""
    settings.NOTIFY_EMAIL_TO = []
    return NotificationChannel.objects.create(name="ops", kind="webhook", config={"url": receiver.url})


def test_the_alert_remembers_who_used_the_cpu(agent, web01, hook, receiver, client, alice):
    AlertRule.objects.create(
        name="cpu hot", metric_type="system", metric_name="cpu_usage", aggregate="last", threshold=90, for_seconds=0
    )
    post_table(agent, 97.0, HOG_TABLE)
    tasks.evaluate_rules.delay()

    fired = orjson.loads(receiver.wait_for(1)[0]["body"])
    assert [p["name"] for p in fired["alert"]["top_processes"]] == ["ffmpeg", "postgres", "node", "nginx", "redis"]
    assert "top processes when it fired:" in fired["text"] and "ffmpeg (pid 4242): CPU 88.0 %, 900 MB" in fired["text"]
    assert "systemd" not in fired["text"]  # five, not the whole table

    # a later table (the hog is gone) changes the host's snapshot, not the alert
    post_table(agent, 96.0, [{"pid": 5, "name": "idle-thing", "cpu_percent": 1.0, "memory_mb": 1.0}])
    assert Snapshot.objects.get(server=web01).processes[0]["name"] == "idle-thing"
    alert = Alert.objects.get(rule__name="cpu hot")
    assert alert.state == AlertState.FIRING and alert.context["processes"][0]["name"] == "ffmpeg"
    assert alert.context["snapshot_ts"] < Snapshot.objects.get(server=web01).ts.isoformat()

    # a week and more later retention has dropped the samples: the alert still knows
    upkeep.retention(now=timezone.now() + timedelta(days=settings.RAW_RETENTION_DAYS + 2))
    assert not Sample.objects.exists()
    alert.refresh_from_db()
    assert [p["pid"] for p in alert.context["processes"][:2]] == [4242, 17]

    client.force_login(alice)
    page = client.get(f"/console/alerts/{alert.pk}").content.decode()
    assert "Who used the CPU" in page and "ffmpeg" in page and "idle-thing" not in page

    evidence = runner.alert_head(alert)
    assert evidence["at_fire"]["top_processes"][0] == {
        "pid": 4242,
        "name": "ffmpeg",
        "cpu_percent": 88.0,
        "memory_mb": 900.0,
    }


def test_an_alert_on_a_host_without_a_process_table_says_nothing_about_processes(web01, hook, receiver):
    AlertRule.objects.create(
        name="cpu hot", metric_type="system", metric_name="cpu_usage", aggregate="last", threshold=90, for_seconds=0
    )
    write_series(web01, "system", "cpu_usage", [(timezone.now() - timedelta(milliseconds=50), 99.0)])
    tasks.evaluate_rules.delay()
    fired = orjson.loads(receiver.wait_for(1)[0]["body"])
    assert fired["alert"]["top_processes"] == [] and "top processes" not in fired["text"]
    assert wait_until(lambda: Alert.objects.filter(context={}).exists())
