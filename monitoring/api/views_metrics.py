"""Metric read APIs: GET /api/v1/metrics (seed 001) and GET /api/metrics/recent (seed 002).

Thin views: parse the parameters (monitoring/query.py), run, answer. A bad
parameter is a 400 naming it: ``{"step": ["... smallest allowed step ... 5m"]}``.
People only: a logged-in session or a person's API token (agent tokens get 403).
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring import query
from monitoring.api import shapes
from monitoring.query import MetricQuery, QueryError

_P = OpenApiParameter


class MetricsView(APIView):
    @extend_schema(
        summary="Series and their points (seed 001)",
        description=(
            "Without from/to: the latest value of each matching series. With a range: the samples of each "
            "series, or one point per step bucket aggregated with agg. More than MAX_QUERY_POINTS points per "
            "series is a 400 naming the smallest allowed step."
        ),
        parameters=[
            _P("server_id", str, description="server id (UUID) or hostname"),
            _P("metric_type", str, description="e.g. cpu"),
            _P("metric_name", str, description="e.g. usage"),
            _P("labels", str, many=True, description="label matcher key:value, several allowed (labels=core:0)"),
            _P("from", str, description="RFC 3339 or epoch seconds"),
            _P("to", str, description="RFC 3339 or epoch seconds; default now"),
            _P("step", str, description="bucket width: 10s, 5m, 1h, 1d"),
            _P("agg", str, enum=list(query.AGGREGATES), description="default avg"),
            _P("source", str, enum=list(query.SOURCES), description="auto (by step), raw, 1m or 1h roll-ups"),
        ],
        responses={200: shapes.MetricSeries(many=True), 400: shapes.Error},
    )
    def get(self, request: Request) -> Response:
        try:
            metric_query = MetricQuery.from_params(request.query_params)
            series = metric_query.run()
        except QueryError as error:
            raise ValidationError({error.field: [error.message]})
        headers = {"X-Metrics-Source": metric_query.chosen_source}
        if metric_query.step:
            headers["X-Metrics-Step"] = str(metric_query.step)
        return Response(series, headers=headers)


class RecentMetricsView(APIView):
    @extend_schema(
        summary="Every sample of the last RETENTION_SECONDS, newest first (seed 002)",
        parameters=[
            _P("server_id", str, description="server id (UUID) or hostname"),
            _P("limit", int, description="at most this many samples (default and maximum MAX_QUERY_POINTS)"),
        ],
        responses={200: shapes.RecentSample(many=True), 400: shapes.Error},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        limit = settings.MAX_QUERY_POINTS
        if params.get("limit"):
            try:
                limit = int(params["limit"])
            except ValueError:
                limit = 0
            if not 0 < limit <= settings.MAX_QUERY_POINTS:
                raise ValidationError({"limit": [f"expected a whole number from 1 to {settings.MAX_QUERY_POINTS}"]})
        server = (params.get("server_id") or params.get("server") or "").strip() or None
        return Response(query.recent(server=server, limit=limit))
