"""Seed 003's event monitor under /api/v1/monitoring/: submit events, read verdicts, health, stats, upkeep.

Who may do what:
- POST events: agent and fleet tokens (an agent token's events belong to its
  server) and people (API token or session).
- GET/POST reads, re-evaluate: people.
- maintenance/cleanup: staff or monitoring.delete_event (it deletes data).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import authentication, exceptions, permissions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import BadInput
from monitoring import events, partitions
from monitoring.api import shapes
from monitoring.api.params import bad_request, integer, text, time
from monitoring.choices import EventStatus
from monitoring.timestamps import iso
from servers.auth import Agent, IngestAuthError, PersonTokenAuthentication, authenticate_agent, raw_token
from servers.permissions import staff_or
from servers.throttle import rate_limiter

MAX_LIMIT = 1000


class AgentPrincipal:
    """request.user for an agent or fleet token: authenticated, not a person."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, agent: Agent):
        self.agent = agent

    def __str__(self) -> str:
        return f"agent {self.agent.key}"


class AgentTokenAuthentication(authentication.BaseAuthentication):
    """Agent and fleet tokens, for the endpoints where agents may write; people's tokens pass on."""

    def authenticate(self, request):
        if not raw_token(request.headers):
            return None
        try:
            agent = authenticate_agent(request.headers)
        except IngestAuthError as exc:
            if exc.status == 403:  # a person's token: PersonTokenAuthentication takes it
                return None
            raise exceptions.AuthenticationFailed(exc.detail)
        return AgentPrincipal(agent), agent

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


def submitted_event(payload, agent: Agent | None) -> events.Submitted:
    if not isinstance(payload, dict):
        raise BadInput("", "expected an object with source, event_type, data")
    source = text(payload, "source", required=True, max_length=255)
    event_type = text(payload, "event_type", required=True, max_length=128)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise BadInput("data", "required: an object")
    metadata = payload.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise BadInput("metadata", "expected an object")
    ts = time(payload.get("timestamp"), "timestamp")
    now = datetime.now(UTC)
    if ts and ts > now + timedelta(hours=1):
        raise BadInput("timestamp", "more than an hour in the future")
    if ts and ts < partitions.oldest_writable(now):
        raise BadInput("timestamp", partitions.retention_problem(ts))
    ts = ts.astimezone(UTC) if ts else ts  # PostgreSQL refuses offsets beyond ±15:59
    return events.Submitted(
        source=source,
        event_type=event_type,
        data=data,
        metadata=metadata,
        ts=ts,
        server_id=str(agent.server_id) if agent and agent.server_id else None,
        hostname=agent.hostname if agent else "",
    )


def event_query(params, *, many_statuses: list | None) -> events.EventQuery:
    statuses = many_statuses or []
    wanted = []
    for i, raw in enumerate(statuses):
        for status in str(raw).split(","):
            status = status.strip().upper()
            if not status:
                continue
            if status not in EventStatus.values:
                raise BadInput(f"status[{i}]" if len(statuses) > 1 else "status", f"one of {EventStatus.values}")
            wanted.append(status)
    query = events.EventQuery(
        limit=integer(params.get("limit"), "limit", default=100, low=1, high=MAX_LIMIT),
        offset=integer(params.get("offset"), "offset", default=0, low=0, high=10_000_000),
        statuses=wanted,
        source=text(params, "source", required=False, max_length=255),
        start=time(params.get("start_time"), "start_time"),
        end=time(params.get("end_time"), "end_time"),
    )
    if query.start and query.end and query.start >= query.end:
        raise BadInput("end_time", "must be after start_time")
    return query


def _body(request: Request) -> dict:
    return request.data if isinstance(request.data, dict) else {}


# seed 003 README, "Submit Event for Monitoring"
SEED003_EVENT = {
    "source": "api_module",
    "event_type": "api_response",
    "data": {"response_time": 250, "status_code": 200, "output": "success"},
    "metadata": {"user_id": "123"},
}


@extend_schema(
    request=OpenApiTypes.OBJECT,
    responses={201: OpenApiTypes.OBJECT},
    examples=[OpenApiExample("seed 003", value=SEED003_EVENT, request_only=True)],
)
class EventsView(APIView):
    """POST /api/v1/monitoring/events: submit an event; it is judged and stored with its verdict."""

    authentication_classes = [AgentTokenAuthentication, PersonTokenAuthentication, SessionAuthentication]

    def post(self, request: Request) -> Response:
        agent = request.auth if isinstance(request.auth, Agent) else None
        if agent is not None:  # an agent's events count against its requests a minute, as its ingest does
            wait = rate_limiter.retry_after(agent.identity([agent.server_id] if agent.server_id else []))
            if wait is not None:
                raise exceptions.Throttled(
                    wait,
                    f"over {settings.AGENT_RATE_LIMIT_PER_MINUTE} requests a minute for this agent "
                    "(AGENT_RATE_LIMIT_PER_MINUTE)",
                )
        try:
            event = submitted_event(request.data, agent)
        except BadInput as exc:
            return bad_request(exc)
        event_id, ts, verdict = events.record(event)
        body = {
            "event_id": event_id,
            "timestamp": iso(ts),
            "source": event.source,
            "event_type": event.event_type,
            **verdict.as_dict(),
        }
        return Response(body, status=201)


@extend_schema(responses={200: shapes.EventHealth})
class HealthView(APIView):
    def get(self, request: Request) -> Response:
        return Response(events.health())


@extend_schema(
    parameters=[
        OpenApiParameter("status", str, many=True),
        OpenApiParameter("source", str),
        OpenApiParameter("limit", int),
        OpenApiParameter("offset", int),
        OpenApiParameter("start_time", OpenApiTypes.DATETIME),
        OpenApiParameter("end_time", OpenApiTypes.DATETIME),
    ],
    request=OpenApiTypes.OBJECT,
    responses={200: shapes.EventPage, 400: shapes.Error},
)
class LogsView(APIView):
    """GET logs (query string; status may repeat) and POST logs/query (JSON body; status a string or list)."""

    def get(self, request: Request) -> Response:
        try:
            query = event_query(request.query_params, many_statuses=request.query_params.getlist("status"))
        except BadInput as exc:
            return bad_request(exc)
        return self._answer(query)

    def post(self, request: Request) -> Response:
        payload = request.data
        if not isinstance(payload, dict):
            return bad_request(BadInput("", "expected an object"))
        status = payload.get("status")
        if status is not None and not isinstance(status, str | list):
            return bad_request(BadInput("status", "expected a status or a list of statuses"))
        try:
            query = event_query(payload, many_statuses=[status] if isinstance(status, str) else status)
        except BadInput as exc:
            return bad_request(exc)
        return self._answer(query)

    def _answer(self, query: events.EventQuery) -> Response:
        found = events.search(query)
        return Response({"count": len(found), "limit": query.limit, "offset": query.offset, "logs": found})


@extend_schema(responses={200: shapes.EventStats})
class StatsView(APIView):
    def get(self, request: Request) -> Response:
        return Response(events.stats())


@extend_schema(
    parameters=[OpenApiParameter("lookback_minutes", int)], request=None, responses={200: OpenApiTypes.OBJECT}
)
class ReEvaluateView(APIView):
    def post(self, request: Request) -> Response:
        try:
            minutes = integer(
                request.query_params.get("lookback_minutes", _body(request).get("lookback_minutes")),
                "lookback_minutes",
                default=60,
                low=1,
                high=7 * 24 * 60,
            )
        except BadInput as exc:
            return bad_request(exc)
        return Response(events.re_evaluate(minutes))


@extend_schema(
    parameters=[OpenApiParameter("older_than_hours", int)], request=None, responses={200: OpenApiTypes.OBJECT}
)
class CleanupView(APIView):
    """Deletes old events: staff, or a person granted monitoring.delete_event."""

    permission_classes = [permissions.IsAuthenticated, staff_or("monitoring.delete_event")]

    def post(self, request: Request) -> Response:
        try:
            raw = request.query_params.get("older_than_hours")
            hours = integer(raw, "older_than_hours", default=48, low=1, high=1_000_000)
        except BadInput as exc:
            return bad_request(exc)
        return Response(events.clean_up(datetime.now(UTC) - timedelta(hours=hours)))
