"""One-click "acknowledge" and "silence 1 h" links in Slack and e-mail messages.

A link is ``/console/act/<token>``: the token is signed with SECRET_KEY
(``django.core.signing``, so it cannot be forged or altered), names the alert,
the action and a random nonce, and expires after ACTION_LINK_TTL_SECONDS. The
nonce's digest is stored (``ActionLink``), and using it marks it used in the
same statement, so each link works once. No login is needed: the link is the
credential. Both actions are written to the alert's history.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from alerts.choices import LinkAction
from alerts.models import ActionLink, Alert, Silence

SALT = "alerts.links"
LABELS = {LinkAction.ACKNOWLEDGE: "Acknowledge", LinkAction.SILENCE: "Silence 1 h"}
SILENCE_FOR = timedelta(hours=1)


class LinkRefused(Exception):
    """The link cannot be used: ``status`` is the HTTP answer (400 forged, 410 used or expired)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True, slots=True)
class Done:
    alert: Alert
    action: str
    text: str


def console_url() -> str:
    return (settings.CONSOLE_URL or f"http://{settings.HOST}:{settings.PORT}").rstrip("/")


def issue(alert: Alert, action: str, channel: str = "", now: datetime | None = None) -> str:
    """A new single-use link for one action on one alert."""
    now = now or timezone.now()
    nonce = secrets.token_urlsafe(18)
    ActionLink.objects.create(
        alert=alert,
        action=action,
        digest=ActionLink.digest_of(nonce),
        channel=channel[:200],
        created_at=now,
        expires_at=now + timedelta(seconds=settings.ACTION_LINK_TTL_SECONDS),
    )
    token = signing.dumps({"a": alert.pk, "x": str(action), "n": nonce}, salt=SALT, compress=True)
    return console_url() + reverse("alert-action", args=[token])


def issue_all(alert: Alert, channel: str = "") -> dict[str, str]:
    return {LABELS[action]: issue(alert, action, channel) for action in LinkAction}


def peek(token: str) -> tuple[Alert, str]:
    """The alert and action a link names, without using it (the confirmation page)."""
    data = _unsign(token)
    alert = Alert.objects.select_related("rule", "server").filter(pk=data["a"]).first()
    if alert is None:
        raise LinkRefused("this alert no longer exists", 410)
    return alert, data["x"]


def use(token: str, now: datetime | None = None) -> Done:
    """Use a link once: acknowledge the alert, or silence alerts with its labels for an hour."""
    now = now or timezone.now()
    data = _unsign(token)
    claimed = ActionLink.objects.filter(
        digest=ActionLink.digest_of(data["n"]), alert_id=data["a"], action=data["x"], used_at__isnull=True
    )
    if not claimed.filter(expires_at__gt=now).update(used_at=now):
        if claimed.exists():
            raise LinkRefused("this link has expired", 410)
        raise LinkRefused("this link was already used", 410)
    alert, action = peek(token)
    link = ActionLink.objects.get(digest=ActionLink.digest_of(data["n"]))
    via = f"a one-click link ({link.channel})" if link.channel else "a one-click link"
    if action == LinkAction.ACKNOWLEDGE:
        if not alert.acknowledge(None, via=via):
            return Done(alert, action, f"already acknowledged at {alert.acknowledged_at:%H:%M:%S} UTC")
        return Done(alert, action, "acknowledged: reminders and escalation stop")
    matchers = dict(alert.labels or {}) or {"alertname": alert.rule.name}
    silence = Silence.objects.create(
        matchers=matchers, starts_at=now, ends_at=now + SILENCE_FOR, comment=f"silenced for 1 h via {via}"
    )
    alert.note(f"silenced for 1 h via {via} (silence #{silence.pk})", now)
    return Done(alert, action, f"silenced for one hour, until {silence.ends_at:%H:%M} UTC")


def _unsign(token: str) -> dict:
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.ACTION_LINK_TTL_SECONDS)
    except signing.SignatureExpired:
        raise LinkRefused("this link has expired", 410) from None
    except signing.BadSignature:
        raise LinkRefused("this link is not valid", 400) from None
    if not isinstance(data, dict) or data.get("x") not in LinkAction.values or not data.get("n"):
        raise LinkRefused("this link is not valid", 400)
    return data
