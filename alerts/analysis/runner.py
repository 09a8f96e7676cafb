"""One analysis from start to stored result: evidence, the model (or the rules), validation, retry.

- LLM disabled or no key: the rule-based analysis, marked is_fallback.
- The model can't be reached (timeout, 429/5xx after the SDK's retries): the
  rule-based analysis, with the model's error kept.
- The model answers with invalid or partial JSON: asked once more with what was
  wrong; a second bad answer stores the analysis as failed, with the reason,
  and the rule-based analysis as its result so a person still has one.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone

from alerts.analysis import client, evidence, fallback, prompt, redact
from alerts.analysis.answer import InvalidAnswer, parse_answer
from alerts.choices import AnalysisStatus
from alerts.models import Analysis
from monitoring.models import Series
from monitoring.timestamps import iso, iso_or_none

log = logging.getLogger(__name__)


def run(analysis: Analysis) -> Analysis:
    analysis.status = AnalysisStatus.RUNNING
    analysis.save(update_fields=["status"])
    try:
        analysis.evidence = gather(analysis)
        _answer(analysis)
    except Exception as exc:  # the row must never stay "running"
        log.exception("analysis %s failed", analysis.pk)
        analysis.status = AnalysisStatus.FAILED
        analysis.error = client.scrub(f"{type(exc).__name__}: {exc}")[:2000]
    analysis.finished_at = timezone.now()
    analysis.save()
    return analysis


def gather(analysis: Analysis) -> dict:
    """The evidence pack of the analysis' window (an alert's, or a lookback), secrets redacted."""
    if analysis.window_start is None or analysis.window_end is None:
        analysis.set_window()
    window = evidence.Window(
        start=analysis.window_start,
        end=analysis.window_end,
        focus_areas=list(analysis.focus_areas or []),
        services=list(analysis.services or []),
    )
    head = None
    if analysis.alert_id:
        alert = analysis.alert
        head = alert_head(alert)
        if alert.server_id:
            window.server_ids = [str(alert.server_id)]
        window.series_ids = affected_series(alert)
    # redacted before it is stored or sent: the pack is shown to readers and sent to the model's provider
    return redact.redact(evidence.build(window, head=head))


def alert_head(alert) -> dict:
    rule = alert.rule
    return {
        "rule": {
            "name": rule.name,
            "kind": rule.kind,
            "severity": rule.severity,
            "metric": ".".join(part for part in (rule.metric_type, rule.metric_name) if part) or None,
            "metric_labels": rule.metric_labels or None,
            "aggregate": rule.aggregate,
            "condition": f"{rule.get_comparison_display()} {rule.threshold:g}",
            "recovery_threshold": rule.recovery_threshold,
            "window_seconds": rule.window_seconds,
            "for_seconds": rule.for_seconds,
            "service": rule.service or None,
            "pattern": rule.pattern or None,
            "description": rule.description[:500] or None,
            "runbook_url": rule.runbook_url or None,
        },
        "alert": {
            "id": alert.pk,
            "status": alert.state,
            "severity": alert.severity,
            "server": alert.server.hostname if alert.server_id else None,
            "labels": alert.labels,
            "summary": alert.summary,
            "value": alert.value,
            "trigger_value": alert.trigger_value,
            "started_at": iso(alert.started_at),
            "fired_at": iso_or_none(alert.fired_at),
            "resolved_at": iso_or_none(alert.resolved_at),
            "acknowledged": alert.acknowledged_at is not None,
        },
        # the host when it fired (alerts/context.py): survives retention and later process tables
        "at_fire": {
            "top_processes": (alert.context or {}).get("processes", [])[:10],
            "snapshot_values": (alert.context or {}).get("values", {}),
            "snapshot_ts": (alert.context or {}).get("snapshot_ts"),
        }
        if alert.context
        else None,
    }


def affected_series(alert) -> list[int]:
    """The series the alert's rule watches on the alert's server."""
    rule = alert.rule
    if not rule.metric_type and not rule.metric_name:
        return []
    series = Series.objects.all()
    if alert.server_id:
        series = series.filter(server_id=alert.server_id)
    if rule.metric_type:
        series = series.filter(metric_type=rule.metric_type)
    if rule.metric_name:
        series = series.filter(name=rule.metric_name)
    if rule.metric_labels:
        series = series.filter(labels__contains=rule.metric_labels)
    return list(series.order_by("id").values_list("id", flat=True)[: evidence.MAX_SERIES])


def _answer(analysis: Analysis) -> None:
    if not settings.ENABLE_LLM_MONITORING:
        return _fallback(analysis, "LLM analysis is disabled (ENABLE_LLM_MONITORING=false)")
    if not client.is_configured():
        return _fallback(analysis, "no GROQ_API_KEY is set")
    messages = prompt.messages(analysis.evidence, analysis.focus_areas)
    reason = ""
    for attempt in (1, 2):
        analysis.attempts = attempt
        try:
            completion = client.complete(messages)
        except client.LLMUnavailable as exc:
            analysis.error = str(exc)
            return _fallback(analysis, f"the model could not answer: {exc}")
        except client.GenerationRejected as exc:
            reason = str(exc)
            log.warning("analysis %s: invalid answer (attempt %d): %s", analysis.pk, attempt, reason)
            messages = messages + prompt.correction(exc.generation, reason)
            continue
        analysis.model = completion.model
        analysis.prompt_tokens += completion.prompt_tokens
        analysis.completion_tokens += completion.completion_tokens
        analysis.tokens_used = analysis.prompt_tokens + analysis.completion_tokens
        analysis.latency_ms = (analysis.latency_ms or 0) + completion.latency_ms
        try:
            result = parse_answer(completion.content, completion.finish_reason)
        except InvalidAnswer as exc:
            reason = str(exc)
            log.warning("analysis %s: invalid answer (attempt %d): %s", analysis.pk, attempt, reason)
            messages = messages + prompt.correction(completion.content, reason)
            continue
        analysis.result = result.as_dict()
        analysis.status = AnalysisStatus.DONE
        analysis.is_fallback = False
        return None
    analysis.error = f"invalid answer twice: {reason}"
    _fallback(analysis, "the model's answers were invalid", status=AnalysisStatus.FAILED)
    return None


def _fallback(analysis: Analysis, reason: str, status: str = AnalysisStatus.DONE) -> None:
    analysis.result = fallback.analyse(analysis.evidence).as_dict()
    analysis.is_fallback = True
    analysis.fallback_reason = reason[:300]
    analysis.status = status
