"""Seed 003's automatic re-evaluation: recent events are judged again on a schedule, as the button does by hand."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitoring import events
from monitoring.models import Event
from monitoring.tasks import re_evaluate_events

ROOT = Path(__file__).resolve().parents[2]


def test_the_worker_re_judges_recent_events_with_todays_thresholds(celery_worker_live, settings):
    settings.REEVALUATE_LOOKBACK_MINUTES = 30
    now = datetime.now(UTC)
    events.record(events.Submitted("api", "response", {"response_time": 4000}, ts=now - timedelta(minutes=5)))
    events.record(events.Submitted("api", "response", {"response_time": 4000}, ts=now - timedelta(minutes=90)))
    settings.EVENT_RESPONSE_TIME_MS = 3000  # what an operator changed since

    report = re_evaluate_events.delay().get(timeout=30)

    assert report["re_evaluated"] == 1 and report["changed"] == 1
    by_age = {e.ts < now - timedelta(minutes=60): e.status for e in Event.objects.all()}
    assert by_age == {False: "WARNING", True: "NORMAL"}  # the old one is outside the lookback


@pytest.mark.django_db
def test_a_lookback_of_zero_turns_it_off(settings):
    settings.REEVALUATE_LOOKBACK_MINUTES = 0
    events.record(events.Submitted("api", "response", {"response_time": 4000}))
    settings.EVENT_RESPONSE_TIME_MS = 3000
    assert re_evaluate_events() == {"re_evaluated": 0, "off": True}
    assert Event.objects.get().status == "NORMAL"


def _schedule(tmp_path, **env) -> str:
    from django.conf import settings

    code = (
        "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings'); from django.conf import settings; "
        "s = settings.CELERY_BEAT_SCHEDULE.get('events-re-evaluate'); print(s and s['schedule'].total_seconds())"
    )
    full = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "DEBUG": "true"}
    full |= {"DATABASE_URL": settings.DATABASE_URL, "REDIS_URL": settings.REDIS_URL, **env}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_beat_runs_it_every_interval_and_not_at_all_when_zero(tmp_path):
    assert _schedule(tmp_path) == "300.0"
    assert _schedule(tmp_path, REEVALUATE_INTERVAL_SECONDS="60") == "60.0"
    assert _schedule(tmp_path, REEVALUATE_INTERVAL_SECONDS="0") == "None"
    assert _schedule(tmp_path, REEVALUATE_LOOKBACK_MINUTES="0") == "None"
