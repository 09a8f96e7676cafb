"""What exists without clicking: channels from NOTIFY_* settings, the built-in CPU rule and the console's
own storage rules (the cap or the disk reached within STORAGE_WARN_DAYS; the disk under
STORAGE_WARN_DISK_FREE_PERCENT free; figures published hourly by monitoring/capacity.py).

Both are ensured idempotently at the start of every evaluation round (a few
reads; a write only when a setting changed), so a deployment configured through
the environment alerts from its first round.
"""

from __future__ import annotations

from django.conf import settings

from alerts.choices import Aggregate, ChannelKind, Comparison, RuleKind, Scope, Severity
from alerts.models import AlertRule, NotificationChannel
from monitoring import capacity

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


def ensure_storage_rules() -> list[AlertRule]:
    """The console alerting on itself: its storage fills within STORAGE_WARN_DAYS, or its disk is nearly full."""
    # the figures come hourly: the last one of the past two hours
    wanted = {
        "storage-days": (
            "Storage fills within days (built-in)",
            capacity.DAYS_LEFT_METRIC,
            settings.STORAGE_WARN_DAYS,
            "At today's ingest rate the console's storage is full in {value:.0f} days (cap or disk): see Storage",
        ),
        "disk-free": (
            "Console disk nearly full (built-in)",
            capacity.DISK_FREE_METRIC,
            settings.STORAGE_WARN_DISK_FREE_PERCENT,
            "Only {value:.1f}% of the console's disk is free (under {threshold:g}%)",
        ),
    }
    rules = []
    for key, (name, metric, threshold, summary) in wanted.items():
        rule, created = AlertRule.objects.get_or_create(
            builtin=key,
            defaults={
                "name": name,
                "kind": RuleKind.THRESHOLD,
                "severity": Severity.CRITICAL,
                "metric_type": capacity.CONSOLE_METRIC_TYPE,
                "metric_name": metric,
                "aggregate": Aggregate.LAST,
                "comparison": Comparison.LT,
                "threshold": threshold,
                "window_seconds": 2 * 3600,
                "scope": Scope.ALL,
                "summary": summary,
            },
        )
        if not created and rule.threshold != threshold:
            rule.threshold = threshold
            rule.save(update_fields=["threshold", "updated_at"])
        rules.append(rule)
    return rules


def ensure() -> None:
    provision_channels()
    ensure_builtin_rules()
    ensure_storage_rules()
