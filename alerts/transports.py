"""One class per kind of notification channel, over a shared ``Transport`` base (as in Healthchecks).

A transport sends one ``Message`` and raises ``TransportError`` when it could
not: ``permanent=True`` means retrying cannot help (a 4xx, no recipients), so
the delivery task gives up at once; otherwise it retries with backoff.

Webhook signature (the Standard Webhooks scheme, standardwebhooks.com): each
request carries ``webhook-id`` (the delivery's id, the same on every retry of
one message, so a receiver drops duplicates), ``webhook-timestamp`` (Unix
seconds) and ``webhook-signature: v1,<base64 HMAC-SHA256>`` of
``"{id}.{timestamp}.{body}"`` under the channel's secret. A secret written
``whsec_<base64>`` is used as those decoded bytes (as Standard Webhooks
libraries do); any other secret as its UTF-8 bytes. ``verify_webhook`` is what
a receiver runs (docs: "Verifying a webhook").

Where a message may go (http(s) only, public addresses, no redirects, no
proxies from the environment) is alerts/outbound.py's business.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import smtplib
import time
import uuid
from dataclasses import dataclass, field

import httpx
import orjson
from django.conf import settings
from django.core.mail import send_mail

from alerts import outbound
from alerts.choices import ChannelKind, MessageKind

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
USER_AGENT = "monitoring-console-alerts/1"


class TransportError(Exception):
    def __init__(self, message: str, *, permanent: bool = False, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status


@dataclass
class Message:
    kind: str  # MessageKind
    title: str
    text: str
    alert: dict | None = None
    extra: dict = field(default_factory=dict)
    # the delivery's id (webhook-id): the same on every attempt of this message through one channel
    id: str = field(default_factory=lambda: f"msg_{uuid.uuid4().hex}")

    def as_json(self) -> dict:
        return {"kind": self.kind, "title": self.title, "text": self.text, "alert": self.alert, **self.extra}


WORDS = {
    MessageKind.FIRING: "FIRING",
    MessageKind.REMINDER: "STILL FIRING",
    MessageKind.ESCALATION: "ESCALATED",
    MessageKind.RESOLVED: "RESOLVED",
    MessageKind.DIGEST: "DIGEST",
    MessageKind.TEST: "TEST",
}


def message_for(alert, kind: str, *, page=None, channel=None) -> Message:
    """What people read about an alert: the same words in every channel (Slack and e-mail add action links)."""
    from alerts import context, links, paging, suppression

    kind = MessageKind(kind)
    data = alert.as_dict()
    if kind == MessageKind.DIGEST and page is not None:
        lines = paging.digest_lines(page)
        title = f"[DIGEST] {alert.rule.name}: {len(lines)} message(s) folded ({page.reason})"
        return Message(kind=kind, title=title, text="\n".join(lines), alert=data, extra={"folded": lines})
    title = f"[{WORDS[kind]}] [{alert.severity}] {alert.summary or alert.rule.name}"
    lines = [alert.summary or alert.rule.name]
    if alert.value is not None:
        lines.append(f"value: {alert.value:.4g} (threshold {alert.rule.threshold:g})")
    if alert.server_id:
        lines.append(f"server: {alert.server.hostname}")
    if alert.description:
        lines.append(alert.description)
    if alert.runbook_url:
        lines.append(f"runbook: {alert.runbook_url}")
    extra: dict = {}
    top = context.top_lines(alert.context)
    if top:
        lines += ["top processes when it fired:", *(f"  {line}" for line in top)]
    quieted = suppression.suppressed_by(alert) if alert.rule.is_host_down else []
    if quieted:
        extra["suppressed"] = [{"id": a.pk, "rule": a.rule.name, "summary": a.summary} for a in quieted]
        lines.append(f"suppressed while {alert.server.hostname if alert.server_id else 'it'} is down:")
        lines += [f"  {a.summary or a.rule.name}" for a in quieted]
    if channel is not None and channel.kind in (ChannelKind.SLACK, ChannelKind.EMAIL) and alert.is_open:
        extra["actions"] = links.issue_all(alert, channel.name)
        lines += [f"{label}: {url}" for label, url in extra["actions"].items()]
    return Message(kind=kind, title=title, text="\n".join(lines), alert=data, extra=extra)


def test_message(channel) -> Message:
    return Message(
        kind=MessageKind.TEST,
        title=f"[TEST] Test notification from {settings.CONSOLE_NAME}",
        text=f"If you read this, the channel {channel.name!r} works.",
    )


def _key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_") :], validate=True)
        except binascii.Error:
            pass
    return secret.encode()


def sign(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value if isinstance(value, str) else ""


def verify_webhook(secret: str, headers, body: bytes, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a webhook receiver runs: the signature matches and the timestamp is recent.

    Any header value (missing, empty, not a number, not base64, several signatures
    separated by spaces, wrong version) answers False, never an exception."""
    lower = {str(k).lower(): v for k, v in dict(headers or {}).items()}
    message_id, timestamp, signatures = (
        _text(lower.get(name)) for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
    )
    if not (message_id.isascii() and message_id.isprintable() and 0 < len(message_id) <= 256):
        return False
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    if isinstance(body, str):
        body = body.encode()
    expected = sign(secret, message_id, timestamp, bytes(body)).encode()
    return any(hmac.compare_digest(expected, candidate.encode(errors="replace")) for candidate in signatures.split())


class Transport:
    def __init__(self, channel):
        self.channel = channel
        self.config = channel.config or {}

    def send(self, message: Message) -> int | None:
        """Send; answer the response code if there is one; raise TransportError when it failed."""
        raise NotImplementedError


class HttpTransport(Transport):
    def post(self, url: str, body: bytes, headers: dict | None = None) -> int:
        if not url:
            raise TransportError("no URL configured", permanent=True)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
        try:
            response = outbound.post(url, body, headers, settings.NOTIFY_TIMEOUT_SECONDS)
        except outbound.RefusedDestination as exc:
            raise TransportError(f"refused: {exc}", permanent=True) from None
        except httpx.TimeoutException:
            raise TransportError(f"timed out after {settings.NOTIFY_TIMEOUT_SECONDS:g}s") from None
        except httpx.HTTPError as exc:
            # the error may quote the URL, whose path is the credential
            raise TransportError(f"connection failed: {str(exc).replace(url, outbound.masked_url(url))}") from None
        code = response.status_code
        if 300 <= code < 400:
            raise TransportError(
                f"received a redirect ({code}), which webhooks do not follow", permanent=True, status=code
            )
        if code >= 500 or code == 429:
            raise TransportError(f"received status {code}", status=code)
        if code >= 400:
            raise TransportError(f"received status {code}: {response.text[:200]}", permanent=True, status=code)
        return code


class Webhook(HttpTransport):
    def send(self, message: Message) -> int:
        body = orjson.dumps(message.as_json())
        headers = {}
        secret = self.config.get("secret") or ""
        if secret:
            timestamp = str(int(time.time()))
            headers = {
                ID_HEADER: message.id,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(secret, message.id, timestamp, body),
            }
        return self.post(str(self.config.get("url", "")), body, headers)


class Slack(HttpTransport):
    COLOURS = {"firing": "#d9363e", "reminder": "#d9363e", "resolved": "#2eb67d", "test": "#439fe0"}

    def send(self, message: Message) -> int:
        body = {
            "text": message.title,
            "attachments": [{"color": self.COLOURS.get(message.kind, "#888888"), "text": message.text}],
        }
        return self.post(str(self.config.get("url", "")), orjson.dumps(body))


class Email(Transport):
    def send(self, message: Message) -> None:
        to = [addr for addr in self.config.get("to", []) if addr]
        if not to:
            raise TransportError("no recipients configured", permanent=True)
        try:
            send_mail(message.title[:250], message.text, settings.DEFAULT_FROM_EMAIL, to, fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            raise TransportError(f"recipients refused: {exc}", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"mail not sent: {exc}") from None
        return None


TRANSPORTS: dict[str, type[Transport]] = {
    ChannelKind.WEBHOOK: Webhook,
    ChannelKind.SLACK: Slack,
    ChannelKind.EMAIL: Email,
}


def transport_for(channel) -> Transport:
    return TRANSPORTS[ChannelKind(channel.kind)](channel)
