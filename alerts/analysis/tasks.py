"""Celery tasks of incident analysis; alerts/tasks.py imports this module so workers know them."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from celery import shared_task
from celery.result import AsyncResult
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.choices import AnalysisStatus, AnalysisTrigger

log = logging.getLogger(__name__)


def _time_limit() -> int:
    # two attempts, each with the SDK's retries, plus gathering the evidence
    return int(2 * (settings.GROQ_MAX_RETRIES + 1) * settings.GROQ_TIMEOUT_SECONDS + 120)


@shared_task(name="alerts.analysis.run", acks_late=True)
def run_analysis(analysis_id: int) -> str:
    from alerts.analysis import runner
    from alerts.models import Analysis

    analysis = Analysis.objects.filter(pk=analysis_id).first()
    if analysis is None or analysis.finished:
        return "gone"
    return runner.run(analysis).status


@shared_task(name="alerts.analysis.alert_fired", acks_late=True)
def analyse_fired_alert(alert_id: int) -> int | None:
    from alerts.analysis import runner
    from alerts.models import Alert, Analysis

    alert = Alert.objects.filter(pk=alert_id).select_related("rule", "server").first()
    if alert is None:
        return None
    analysis = Analysis.objects.create(alert=alert, trigger=AnalysisTrigger.ALERT_FIRED)
    runner.run(analysis)
    return analysis.pk


# An analysis still pending or running this long after it was asked for lost its task.
STUCK_AFTER = timedelta(hours=1)


@shared_task(name="alerts.analysis.prune", ignore_result=True)
def prune() -> dict:
    """Analyses older than ANALYSIS_RETENTION_DAYS go; ones whose task was lost are marked failed."""
    from alerts.models import Analysis

    now = timezone.now()
    deleted, _ = Analysis.objects.filter(created_at__lt=now - timedelta(days=settings.ANALYSIS_RETENTION_DAYS)).delete()
    lost = Analysis.objects.filter(
        status__in=(AnalysisStatus.PENDING, AnalysisStatus.RUNNING), created_at__lt=now - STUCK_AFTER
    ).update(
        status=AnalysisStatus.FAILED,
        error="the analysis task was lost (worker stopped or queue flushed)",
        finished_at=now,
    )
    return {"deleted": deleted, "lost": lost}


def submit(analysis) -> None:
    """Queue the analysis once the transaction that created it commits; ``wait`` can then follow it."""
    # unique per submission: a reused database (tests, a restore) must not meet an old result
    analysis.task_id = f"analysis-{analysis.pk}-{uuid.uuid4().hex[:12]}"

    def send():
        try:
            run_analysis.apply_async((analysis.pk,), task_id=analysis.task_id, retry=False, time_limit=_time_limit())
        except Exception:
            log.exception("analysis %s: the queue is unavailable, running it here", analysis.pk)
            from alerts.analysis import runner

            runner.run(analysis)

    transaction.on_commit(send)


def wait(analysis, seconds: float):
    """The analysis once finished, or as it is after ``seconds``."""
    task_id = getattr(analysis, "task_id", None)
    if task_id and not analysis.finished and seconds > 0:
        try:
            AsyncResult(task_id).get(timeout=seconds, propagate=False, disable_sync_subtasks=False)
        except Exception as exc:  # celery's TimeoutError, or a result backend that is down
            log.debug("analysis %s not finished after %.1fs: %s", analysis.pk, seconds, exc)
    analysis.refresh_from_db()
    return analysis


__all__ = ["analyse_fired_alert", "prune", "run_analysis", "submit", "wait"]
