"""What exists without clicking: channels from NOTIFY_* settings, the built-in rules (CPU, host down,
seed 004's service alerts, the console watching its ingest lag and its rounds) and the console's
own storage rules (the cap or the disk reached within STORAGE_WARN_DAYS; the disk under
STORAGE_WARN_DISK_FREE_PERCENT free; figures published hourly by monitoring/capacity.py).

Both are ensured idempotently at the start of every evaluation round (a few
reads; a write only when a setting changed), so a deployment configured through
the environment alerts from its first round.
"""

from __future__ import annotations

from django.conf import settings

from alerts import health
from alerts.choices import Aggregate, ChannelKind, Comparison, ConsoleCheck, RuleKind, Scope, Severity
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


def builtin_rules() -> dict[str, dict]:
    """The rules that exist without clicking, by key; the fields named in FOLLOWS track the settings."""
    interval = settings.ALERT_EVAL_INTERVAL_SECONDS
    return {
        "cpu": {  # seed 002
            "name": "CPU above threshold (built-in)",
            "kind": RuleKind.THRESHOLD,
            "metric_type": CPU_METRIC[0],
            "metric_name": CPU_METRIC[1],
            "aggregate": Aggregate.LAST,
            "threshold": settings.ALERT_CPU_THRESHOLD,
            "window_seconds": 60,
            "for_seconds": settings.ALERT_CPU_DURATION_SECONDS,
            "summary": "CPU {value:.1f}% on {server} (above {threshold:g}%)",
        },
        "host_down": {  # the root cause of a host's other alerts (alerts/suppression.py)
            "name": "Host down (built-in)",
            "kind": RuleKind.ABSENCE,
            "severity": Severity.CRITICAL,
            "window_seconds": settings.SERVER_DOWN_SECONDS,
            "for_seconds": 0,
            "summary": "{server} is down: no contact for {window} s",
        },
        "service_error_rate": {  # seed 004: error rate over 5 % in 5 minutes
            "name": "Service error rate above 5 % (built-in)",
            "kind": RuleKind.LOG_ERROR_RATE,
            "threshold": 5,
            "window_seconds": 300,
            "for_seconds": 0,
            "summary": "{value:.1f} % errors in {service} over 5 min",
        },
        "service_silent": {  # seed 004: no logs from a registered service for 10 minutes
            "name": "Service sends no logs (built-in)",
            "kind": RuleKind.LOG_ABSENCE,
            "window_seconds": settings.SERVICE_SILENT_SECONDS,
            "for_seconds": 0,
            "summary": "{service} sent no logs for {window} s",
        },
        "critical_log": {  # seed 004: any CRITICAL log line
            "name": "CRITICAL log line (built-in)",
            "kind": RuleKind.LOG_PATTERN,
            "severity": Severity.CRITICAL,
            "log_level": "CRITICAL",
            "threshold": 0,
            "window_seconds": max(60, 2 * interval),
            "for_seconds": 0,
            "summary": "{value:.0f} CRITICAL log line(s) from {service}",
        },
        "ingest_lag": {  # the console watching itself (seed 004: processing lag over 60 s)
            "name": "Console: ingest-to-stored lag (built-in)",
            "kind": RuleKind.CONSOLE,
            "metric_name": ConsoleCheck.INGEST_LAG,
            "threshold": settings.ALERT_INGEST_LAG_SECONDS,
            "recovery_threshold": settings.ALERT_INGEST_LAG_SECONDS,
            "window_seconds": 60,
            "for_seconds": 0,
            "summary": "data stored {value:.0f} s after it was measured (over {threshold:g} s)",
        },
        "round_age": {
            "name": "Console: evaluation rounds late (built-in)",
            "kind": RuleKind.CONSOLE,
            "severity": Severity.CRITICAL,
            "metric_name": ConsoleCheck.ROUND_AGE,
            "threshold": health.late_after(),
            "recovery_threshold": health.late_after(),
            "window_seconds": 60,
            # two more intervals: after a restart the first round catches up before this may fire
            "for_seconds": 2 * interval,
            "summary": "the last evaluation round was {value:.0f} s ago (over {threshold:g} s)",
        },
    }


FOLLOWS = ("threshold", "recovery_threshold", "window_seconds", "for_seconds")


def ensure_builtin_rules() -> dict[str, AlertRule]:
    """Every built-in rule exists (on by default; disable it in the admin) and follows its settings."""
    rules = {}
    existing = {rule.builtin: rule for rule in AlertRule.objects.filter(builtin__isnull=False)}
    for key, fields in builtin_rules().items():
        rule = existing.get(key)
        if rule is None:
            # get_or_create: two rounds starting at once both find it missing; the second reads the first's
            rule, _ = AlertRule.objects.get_or_create(
                builtin=key, defaults={"comparison": Comparison.GT, "scope": Scope.ALL, **fields}
            )
        else:
            changed = [name for name in FOLLOWS if name in fields and getattr(rule, name) != fields[name]]
            if changed:
                for name in changed:
                    setattr(rule, name, fields[name])
                rule.save(update_fields=[*changed, "updated_at"])
        rules[key] = rule
    return rules


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
                "for_seconds": 0,
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
