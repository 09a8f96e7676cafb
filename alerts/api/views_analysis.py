"""Analysis endpoints: start one (seed 003, seed 004, an alert's button), read one.

Each start stores an Analysis, queues the Celery task and waits up to
ANALYSIS_WAIT_SECONDS for it; still running then, the answer is 202 with a
Location header and URL where the result will be.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import orjson
from django.conf import settings
from django.core.cache import cache
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, throttle_classes
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from alerts.analysis import tasks
from alerts.api.serializers_analysis import (
    Accepted,
    AnalysisList,
    AnalysisOut,
    AnalysisRequest,
    Insights,
    InsightsQuery,
    Seed003Analysis,
    WaitQuery,
)
from alerts.choices import AnalysisStatus, AnalysisTrigger
from alerts.models import Alert, Analysis
from monitoring.timestamps import iso

log = logging.getLogger(__name__)

# Seed 004's dashboard polls insights: a finished answer this young is served again.
INSIGHTS_REUSE = timedelta(seconds=60)


class AnalysisThrottle(SimpleRateThrottle):
    """ANALYSIS_REQUESTS_PER_MINUTE analyses per person: a busy button must not burn the model's quota."""

    scope = "analysis"

    def get_rate(self) -> str | None:
        per_minute = settings.ANALYSIS_REQUESTS_PER_MINUTE
        return f"{per_minute}/min" if per_minute > 0 else None

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk or self.get_ident(request)}

    def allow_request(self, request, view) -> bool:
        self.rate = self.get_rate()  # read at request time: tests and operators may change it
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except Exception:  # the cache (Redis) is down: analyses go on unthrottled
            return True


class InsightsThrottle(AnalysisThrottle):
    """INSIGHTS_REQUESTS_PER_MINUTE reads of the insights per person: dashboards poll it."""

    scope = "insights"

    def get_rate(self) -> str | None:
        per_minute = settings.INSIGHTS_REQUESTS_PER_MINUTE
        return f"{per_minute}/min" if per_minute > 0 else None


def _cached_insights(key: str) -> dict | None:
    try:
        return cache.get(key)
    except Exception:  # the cache (Redis) is down: read the database as before
        return None


def _cache_insights(key: str, body: dict) -> None:
    if body.get("status") != AnalysisStatus.DONE:
        return
    try:
        cache.set(key, body, timeout=int(INSIGHTS_REUSE.total_seconds()))
    except Exception:  # the cache (Redis) is down: the next poll reads the database
        log.warning("insights not cached: the cache is unavailable", exc_info=True)


_WAIT = OpenApiParameter("wait", float, description="seconds to wait for the result (max ANALYSIS_WAIT_SECONDS)")


def _wait_seconds(request: Request) -> float:
    query = WaitQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    wanted = query.validated_data.get("wait")
    limit = settings.ANALYSIS_WAIT_SECONDS
    return limit if wanted is None else min(wanted, limit)


def _start_and_wait(request: Request, analysis: Analysis, answer) -> Response:
    wait = _wait_seconds(request)
    analysis.set_window()
    analysis.save()
    tasks.submit(analysis)
    analysis = tasks.wait(analysis, wait)
    if analysis.finished:
        return Response(answer(analysis))
    url = f"/api/v1/analyses/{analysis.pk}"
    return Response(
        {"id": analysis.pk, "status": analysis.status, "url": url},
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": url},
    )


@extend_schema(
    request=AnalysisRequest,
    parameters=[_WAIT],
    responses={200: Seed003Analysis, 202: Accepted},
    summary="LLM analysis of the last minutes (seed 003)",
)
@api_view(["POST"])
@throttle_classes([AnalysisThrottle])
def analysis_llm(request: Request) -> Response:
    body = AnalysisRequest(data=request.data)
    body.is_valid(raise_exception=True)
    analysis = Analysis(
        trigger=AnalysisTrigger.API,
        requested_by=request.user,
        lookback_minutes=body.validated_data["lookback_minutes"],
        focus_areas=body.validated_data["focus_areas"],
    )
    return _start_and_wait(request, analysis, Analysis.as_seed003)


@extend_schema(
    parameters=[InsightsQuery, _WAIT],
    responses={200: Insights, 202: Accepted},
    summary="AI-generated insights (seed 004)",
)
@api_view(["GET"])
@throttle_classes([InsightsThrottle])
def insights(request: Request) -> Response:
    """Cached for INSIGHTS_REUSE (the answer, in Redis) and throttled per person: seed 004's dashboard polls it."""
    query = InsightsQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    lookback = query.validated_data["lookback_minutes"]
    services = [query.validated_data["service"]] if query.validated_data.get("service") else []
    key = "insights:" + hashlib.sha256(orjson.dumps([lookback, services])).hexdigest()
    if (cached := _cached_insights(key)) is not None:
        return Response(cached)
    recent = (
        Analysis.objects.filter(
            trigger=AnalysisTrigger.INSIGHTS,
            lookback_minutes=lookback,
            services=services,
            status=AnalysisStatus.DONE,
            created_at__gte=timezone.now() - INSIGHTS_REUSE,
        )
        .order_by("-created_at")
        .first()
    )
    if recent is not None:
        body = _as_insights(recent)
        _cache_insights(key, body)
        return Response(body)
    analysis = Analysis(
        trigger=AnalysisTrigger.INSIGHTS, requested_by=request.user, lookback_minutes=lookback, services=services
    )
    return _start_and_wait(request, analysis, _as_insights)


def _as_insights(analysis: Analysis) -> dict:
    result = analysis.result or {}
    return {
        "generated_at": iso(analysis.finished_at or analysis.created_at),
        "lookback_minutes": analysis.lookback_minutes,
        "service": (analysis.services or [None])[0],
        "summary": result.get("analysis", ""),
        "severity": result.get("severity", ""),
        "insights": [{"type": "finding", "message": text} for text in result.get("key_findings", [])],
        "recommendations": result.get("recommendations", []),
        "confidence": result.get("confidence", 0.0),
        "analysis_id": analysis.pk,
        "status": analysis.status,
        "is_fallback": analysis.is_fallback,
        "model": analysis.model,
        "generated_by": analysis.generated_by,
        "notice": analysis.notice,
    }


@extend_schema(
    request=None,
    parameters=[_WAIT],
    responses={200: AnalysisOut, 202: Accepted},
    summary="Analyse an alert (the alert page's button)",
)
@api_view(["POST"])
@throttle_classes([AnalysisThrottle])
def analyse_alert(request: Request, pk: int) -> Response:
    alert = get_object_or_404(Alert.objects.select_related("rule", "server"), pk=pk)
    analysis = Analysis(alert=alert, trigger=AnalysisTrigger.ALERT_PAGE, requested_by=request.user)
    return _start_and_wait(request, analysis, Analysis.as_dict)


@extend_schema(
    operation_id="api_v1_analyses_detail",
    responses=AnalysisOut,
    summary="One analysis: status, result, the evidence the model saw, tokens and latency",
)
@api_view(["GET"])
def analysis_detail(request: Request, pk: int) -> Response:
    analysis = get_object_or_404(Analysis, pk=pk)
    return Response(analysis.as_dict())


@extend_schema(
    parameters=[OpenApiParameter("alert", int, description="only the analyses of this alert")],
    responses=AnalysisList,
    summary="Recent analyses, newest first (without their evidence)",
)
@api_view(["GET"])
def analysis_list(request: Request) -> Response:
    analyses = Analysis.objects.all()
    alert = request.query_params.get("alert")
    if alert:
        if not alert.isdigit():
            raise ValidationError({"alert": ["must be an alert id"]})
        analyses = analyses.filter(alert_id=int(alert))
    return Response({"results": [a.as_dict(with_evidence=False) for a in analyses[:100]]})
