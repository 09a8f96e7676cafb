"""Seed 004's dashboard polls GET /api/analytics/insights: answers come from the cache, and polling is throttled."""

import pytest
from django.core.cache import cache
from django.utils import timezone

from alerts.choices import AnalysisStatus, AnalysisTrigger
from alerts.models import Analysis

pytestmark = pytest.mark.django_db

RESULT = {"analysis": "All quiet.", "severity": "NORMAL", "key_findings": ["nothing"], "recommendations": ["none"],
          "confidence": 0.9}  # fmt: skip


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _done_insights() -> Analysis:
    return Analysis.objects.create(
        trigger=AnalysisTrigger.INSIGHTS, lookback_minutes=30, services=[], status=AnalysisStatus.DONE,
        result=RESULT, is_fallback=True, finished_at=timezone.now(),
    )  # fmt: skip


def test_a_polled_answer_comes_from_the_cache(api):
    analysis = _done_insights()
    first = api.get("/api/analytics/insights?lookback_minutes=30").json()
    Analysis.objects.all().delete()  # the database no longer has it: only the cache can answer

    again = api.get("/api/analytics/insights?lookback_minutes=30").json()

    assert first["analysis_id"] == again["analysis_id"] == analysis.pk
    assert again["summary"] == "All quiet."


def test_polling_faster_than_the_limit_is_a_429(api, settings):
    settings.INSIGHTS_REQUESTS_PER_MINUTE = 2
    _done_insights()

    codes = [api.get("/api/analytics/insights?lookback_minutes=30").status_code for _ in range(3)]

    assert codes == [200, 200, 429]
