"""A server's timeline (GET /api/v1/servers/{id}/timeline) and deploy annotations (POST /api/v1/annotations).

Annotations come from CI with a fleet token, or from people (token or
session); an agent token gets 403. A bad field is a 400 naming it; nothing of
a refused request is stored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import BadInput
from monitoring import timeline
from monitoring.api import params
from monitoring.models import Annotation
from monitoring.query import QueryError, parse_time
from servers.auth import Agent, RegistrationAuthentication
from servers.choices import TokenKind
from servers.models import Server

MAX_ITEMS = 2000
MAX_SERVERS = 100
DEFAULT_SPAN = timedelta(hours=24)


def server_or_404(key: str) -> Server:
    """A server by id (UUID) or hostname."""
    try:
        found = Server.objects.filter(pk=key).first()
    except Exception:  # not a UUID: a hostname
        found = None
    found = found or Server.objects.filter(hostname=key).first()
    if found is None:
        raise NotFound(f"no server {key!r}")
    return found


class ServerTimelineView(APIView):
    @extend_schema(
        summary="Everything that happened to a server, on one time axis",
        parameters=[
            OpenApiParameter("from", str, description="RFC 3339 or epoch seconds; default 24 h before to"),
            OpenApiParameter("to", str, description="RFC 3339 or epoch seconds; default now"),
            OpenApiParameter("kind", str, many=True, enum=list(timeline.KINDS), description="repeat or comma-separate"),
            OpenApiParameter("limit", int, description=f"newest first, at most {MAX_ITEMS} (default 500)"),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, server_id: str) -> Response:
        server = server_or_404(server_id)
        try:
            end = parse_time(request.query_params["to"], "to") if request.query_params.get("to") else None
            start = parse_time(request.query_params["from"], "from") if request.query_params.get("from") else None
            kinds = _kinds(request.query_params.getlist("kind"))
            limit = params.integer(request.query_params.get("limit"), "limit", default=500, low=1, high=MAX_ITEMS)
        except QueryError as error:
            return params.bad_request(BadInput(error.field, error.message))
        except BadInput as error:
            return params.bad_request(error)
        end = end or datetime.now(UTC)
        start = start or end - DEFAULT_SPAN
        if start > end:
            return params.bad_request(BadInput("from", "must be before to"))
        items = timeline.timeline(server, start, end, kinds, limit)
        return Response(
            {
                "server_id": str(server.pk),
                "server": str(server.pk),  # today's name, kept beside server_id
                "hostname": server.hostname,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "kinds": sorted(kinds),
                "items": [item.as_dict() for item in items],
            }
        )


def _kinds(raw: list[str]) -> set[str]:
    asked = {kind.strip() for value in raw for kind in value.split(",") if kind.strip()}
    unknown = asked - set(timeline.KINDS)
    if unknown:
        raise BadInput("kind", f"unknown kind {sorted(unknown)[0]!r}; one of {', '.join(timeline.KINDS)}")
    return asked or set(timeline.KINDS)


class FleetOrPerson(permissions.BasePermission):
    """People (token or session) and fleet tokens (CI); an agent token speaks for one host only."""

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, Agent):
            if request.auth.kind != TokenKind.FLEET:
                raise PermissionDenied("an agent token cannot annotate; use a fleet token or a person's token")
            return True
        return bool(request.user and request.user.is_authenticated)


class AnnotationsView(APIView):
    authentication_classes = [RegistrationAuthentication, SessionAuthentication]
    permission_classes = [FleetOrPerson]

    @extend_schema(
        summary="Mark a deploy (or a note) on servers' timelines and charts",
        description=(
            'Body: {"title", "text"?, "kind": "deploy"|"note", "ts"? (RFC 3339, default now), '
            '"servers"? [hostname or id, ...] (or "server"; none: the whole fleet), "url"?, "tags"? {string: string}}. '
            "Answers 201 with the annotations stored (one per server)."
        ),
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        try:
            fields, servers = _annotation(request.data)
        except BadInput as error:
            return params.bad_request(error)
        author = request.user.get_username() if request.user.is_authenticated else _fleet_name(request.auth)
        with transaction.atomic():
            stored = [Annotation.objects.create(server=server, author=author, **fields) for server in servers]
        return Response({"annotations": [a.as_dict() for a in stored]}, status=201)


def _fleet_name(agent: Agent) -> str:
    return f"fleet token #{agent.token_id}" if agent.token_id else "fleet token"


def _annotation(data) -> tuple[dict, list[Server | None]]:
    if not isinstance(data, dict):
        raise BadInput("", "expected a JSON object")
    kind = data.get("kind") or "deploy"
    if kind not in dict(Annotation.KINDS):
        raise BadInput("kind", "one of deploy, note")
    tags = data.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise BadInput("tags", "an object of string values")
    fields = {
        "title": params.text(data, "title", required=True, max_length=300),
        "text": params.text(data, "text", required=False, max_length=10_000) or "",
        "url": params.text(data, "url", required=False, max_length=500) or "",
        "kind": kind,
        "tags": tags,
        "ts": params.time(data.get("ts"), "ts") or datetime.now(UTC),
    }
    names = data.get("servers")
    if names is None and data.get("server") is not None:
        names = [data["server"]]
    if names is None:
        return fields, [None]
    if not isinstance(names, list) or not names or len(names) > MAX_SERVERS:
        raise BadInput("servers", f"a list of 1 to {MAX_SERVERS} hostnames or ids")
    servers = []
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise BadInput(f"servers[{i}]", "a hostname or id")
        try:
            servers.append(server_or_404(name))
        except NotFound:
            raise BadInput(f"servers[{i}]", f"no server {name!r}") from None
    return fields, servers
