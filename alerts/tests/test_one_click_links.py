"""Slack and e-mail messages carry one-click "acknowledge" and "silence 1 h" links: signed, expiring, single-use."""

import re
from datetime import timedelta
from urllib.parse import urlparse

import orjson
import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from alerts import links, tasks
from alerts.choices import LinkAction
from alerts.models import Alert, AlertRule, Silence
from config.tests.fixtures import wait_until, write_series
from servers.models import Server

# real worker, real time: seconds each (left out of the PgBouncer re-run of the suite)
pytestmark = [pytest.mark.usefixtures("celery_worker_live"), pytest.mark.slow]

URL = re.compile(r"(Acknowledge|Silence 1 h): (\S+)")


@pytest.fixture
def slack_and_mail(receiver, settings):
    settings.NOTIFY_WEBHOOK_URL = ""
    settings.NOTIFY_SLACK_WEBHOOK_URL = receiver.url + "/slack"
    settings.NOTIFY_EMAIL_TO = ["ops@example.com"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CONSOLE_URL = "https://console.example.com"
    return settings


@pytest.fixture
def firing(slack_and_mail, receiver):
    server = Server.objects.create(hostname="app-01")
    AlertRule.objects.create(name="queue deep", metric_type="app", metric_name="queue_depth", aggregate="last",
                             threshold=100, for_seconds=0)  # fmt: skip
    write_series(server, "app", "queue_depth", [(timezone.now() - timedelta(milliseconds=50), 500.0)])
    tasks.evaluate_rules.delay()
    receiver.wait_for(1)
    wait_until(lambda: len(mail.outbox) == 1)
    return Alert.objects.get()


def actions_in(text: str) -> dict[str, str]:
    return {label: url for label, url in URL.findall(text)}


def nobody() -> Client:
    return Client()  # not logged in


def test_carol_acknowledges_from_slack_without_logging_in(firing, receiver):
    slack = orjson.loads(receiver.requests[0]["body"])
    urls = actions_in(slack["attachments"][0]["text"])
    assert set(urls) == {"Acknowledge", "Silence 1 h"}
    ack = urls["Acknowledge"]
    assert ack.startswith("https://console.example.com/console/act/")

    path = urlparse(ack).path
    shown = nobody().get(path)  # what a link preview or mail scanner fetches: nothing is done
    assert shown.status_code == 200 and b"Acknowledge?" in shown.content
    assert Alert.objects.get().acknowledged_at is None

    done = nobody().post(path)
    assert done.status_code == 200 and b"Acknowledged: reminders and escalation stop" in done.content
    alert = Alert.objects.get()
    assert alert.acknowledged_at is not None and alert.acknowledged_by is None
    assert alert.transitions.filter(note__startswith="acknowledged via a one-click link (slack").exists()

    again = nobody().post(path)
    assert again.status_code == 410 and b"already used" in again.content


def test_dave_silences_for_an_hour_from_the_email(firing):
    urls = actions_in(mail.outbox[0].body)
    response = nobody().post(urlparse(urls["Silence 1 h"]).path)
    assert response.status_code == 200 and b"Silenced for one hour" in response.content
    silence = Silence.objects.get()
    assert silence.mutes(firing) and timedelta(minutes=59) < silence.ends_at - silence.starts_at <= timedelta(hours=1)
    assert firing.transitions.filter(note__contains="silenced for 1 h via a one-click link (email").exists()
    assert firing.muted_by().startswith("silence #")


def test_an_expired_link_is_refused(firing, settings):
    url = links.issue(firing, LinkAction.ACKNOWLEDGE, "slack", now=timezone.now() - timedelta(days=2))
    response = nobody().post(urlparse(url).path)
    assert response.status_code == 410 and b"expired" in response.content
    assert Alert.objects.get().acknowledged_at is None


def test_a_forged_or_altered_link_is_refused(firing):
    url = links.issue(firing, LinkAction.ACKNOWLEDGE, "slack")
    path = urlparse(url).path
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert nobody().post(forged).status_code == 400
    assert nobody().get("/console/act/not-a-token").status_code == 400
    assert Alert.objects.get().acknowledged_at is None
