"""What exists without clicking: channels from NOTIFY_* settings and the built-in CPU rule.

Both are ensured idempotently at the start of every evaluation round (a few
reads; a write only when a setting changed), so a deployment configured through
the environment alerts from its first round.
"""

from __future__ import annotations

from django.conf import settings

from alerts.choices import Aggregate, ChannelKind, Comparison, RuleKind, Scope, Severity
from alerts.models import AlertRule, NotificationChannel

# seed 000 and seed 002 agents both report CPU as system/cpu_usage (ingest/seed002.py)
CPU_METRIC = ("system", "cpu_usage")


def channels_from_settings() -> dict[str, tuple[str, dict]]:
    wanted: dict[str, tuple[str, dict]] = {}
    if settings.NOTIFY_WEBHOOK_URL:
        config = {"url": settings.NOTIFY_WEBHOOK_URL, "secret": settings.NOTIFY_WEBHOOK_SECRET or ""}
        wanted["NOTIFY_WEBHOOK_URL"] = (ChannelKind.WEBHOOK, config)
    if settings.NOTIFY_SLACK_WEBHOOK_URL:
        wanted["NOTIFY_SLACK_WEBHOOK_URL"] = (ChannelKind.SLACK, {"url": settings.NOTIFY_SLACK_WEBHOOK_URL})
    if settings.NOTIFY_EMAIL_TO:
        wanted["NOTIFY_EMAIL_TO"] = (ChannelKind.EMAIL, {"to": list(settings.NOTIFY_EMAIL_TO)})
    return wanted


def provision_channels() -> None:
    """One channel per NOTIFY_* setting, kept in step with it; a setting removed disables its channel."""
    wanted = channels_from_settings()
    existing = {c.provisioned: c for c in NotificationChannel.objects.filter(provisioned__isnull=False)}
    for key, (kind, config) in wanted.items():
        channel = existing.get(key)
        if channel is None:
            NotificationChannel.objects.create(
                name=f"{kind} (from {key})", kind=kind, config=config, provisioned=key, enabled=True
            )
        elif channel.config != config or channel.kind != kind:
            channel.config, channel.kind = config, kind
            channel.save(update_fields=["config", "kind"])
    gone = [key for key in existing if key not in wanted]
    if gone:
        NotificationChannel.objects.filter(provisioned__in=gone, enabled=True).update(enabled=False)


def ensure_builtin_rules() -> AlertRule:
    """The CPU rule of seed 002: ALERT_CPU_THRESHOLD for ALERT_CPU_DURATION_SECONDS (follows the settings)."""
    rule, created = AlertRule.objects.get_or_create(
        builtin="cpu",
        defaults={
            "name": "CPU above threshold (built-in)",
            "kind": RuleKind.THRESHOLD,
            "severity": Severity.WARNING,
            "metric_type": CPU_METRIC[0],
            "metric_name": CPU_METRIC[1],
            "aggregate": Aggregate.LAST,
            "comparison": Comparison.GT,
            "threshold": settings.ALERT_CPU_THRESHOLD,
            "window_seconds": 60,
            "for_seconds": settings.ALERT_CPU_DURATION_SECONDS,
            "scope": Scope.ALL,
            "summary": "CPU {value:.1f}% on {server} (above {threshold:g}%)",
        },
    )
    if not created and (
        rule.threshold != settings.ALERT_CPU_THRESHOLD or rule.for_seconds != settings.ALERT_CPU_DURATION_SECONDS
    ):
        rule.threshold, rule.for_seconds = settings.ALERT_CPU_THRESHOLD, settings.ALERT_CPU_DURATION_SECONDS
        rule.save(update_fields=["threshold", "for_seconds", "updated_at"])
    return rule


def ensure() -> None:
    provision_channels()
    ensure_builtin_rules()
