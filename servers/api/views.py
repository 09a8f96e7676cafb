"""The inventory API: register, list, read, change and delete servers."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, permissions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from servers import registry
from servers.api.serializers import RegistrationSerializer, ServerSerializer
from servers.auth import Agent, PersonTokenAuthentication, RegistrationAuthentication, token_cache
from servers.choices import ServerStatus, TokenKind
from servers.models import Server
from servers.permissions import may


class PeopleReadAgentsRegister(permissions.BasePermission):
    """People read and register; agents (fleet, or an agent for its own host) only register."""

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, Agent):
            return request.method == "POST"
        if request.user and request.user.is_authenticated:
            return True
        return request.method == "POST" and settings.INGEST_ALLOW_ANONYMOUS


class StaffDeletes(permissions.BasePermission):
    """Anyone signed in reads and describes a server; deleting one (and its series) takes staff or
    ``servers.delete_server``."""

    message = "deleting a server needs staff or the permission servers.delete_server"

    def has_permission(self, request, view) -> bool:
        if request.method == "DELETE":
            return may(request.user, "servers.delete_server")
        return True


# what decides whether a server's alerts page people: changing them takes staff or servers.change_server
PAGING_FIELDS = ("active", "maintenance_until")


def _query(name: str, description: str, many: bool = False) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.QUERY, description=description, many=many)


@extend_schema_view(
    get=extend_schema(
        parameters=[
            _query("environment", "exact environment"),
            _query("team", "exact owner team"),
            _query("label", "key:value (or key: has the label); repeat to require several", many=True),
            _query("status", "up, stale or down (from last_seen)"),
            _query("kind", "host or service"),
            _query("active", "true or false"),
            _query("q", "hostname contains, or IP address starts with"),
        ]
    ),
    post=extend_schema(request=RegistrationSerializer, responses={200: ServerSerializer, 201: ServerSerializer}),
)
class ServerList(generics.ListAPIView):
    """GET: servers, filtered by environment, team, label (``role:web``), status, kind, q; paginated.
    POST: register a server (seed 001); an existing hostname is updated and keeps its id."""

    serializer_class = ServerSerializer
    authentication_classes = [RegistrationAuthentication, SessionAuthentication]
    permission_classes = [PeopleReadAgentsRegister]

    def get_queryset(self):
        servers = Server.objects.all()
        params = self.request.query_params
        if params.get("environment"):
            servers = servers.filter(environment=params["environment"])
        if params.get("team"):
            servers = servers.filter(owner_team=params["team"])
        if params.get("kind"):
            servers = servers.filter(kind=params["kind"])
        if params.get("active") in ("true", "false"):
            servers = servers.filter(active=params["active"] == "true")
        if params.get("q"):
            servers = servers.filter(Q(hostname__icontains=params["q"]) | Q(ip_address__startswith=params["q"]))
        for matcher in params.getlist("label"):
            servers = servers.with_label(matcher)
        wanted = params.get("status")
        if wanted:
            if wanted not in ServerStatus.values:
                raise ValidationError({"status": f"one of {', '.join(ServerStatus.values)}"})
            servers = servers.with_status(wanted)
        return servers

    def post(self, request: Request) -> Response:
        body = RegistrationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        hostname = body.validated_data["hostname"]
        agent = request.auth if isinstance(request.auth, Agent) else None
        if agent is not None and agent.kind == TokenKind.AGENT:
            own = Server.objects.filter(pk=agent.server_id).values_list("hostname", flat=True).first()  # type: ignore[misc]
            if own != hostname:
                raise PermissionDenied(f"this agent token registers {own} only")
        server, created = Server.register(hostname, **body.validated_fields())
        registry.forget()
        return Response(
            ServerSerializer(server).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class ServerDetail(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = ServerSerializer
    authentication_classes = [PersonTokenAuthentication, SessionAuthentication]
    permission_classes = [permissions.IsAuthenticated, StaffDeletes]
    queryset = Server.objects.all()

    def perform_update(self, serializer) -> None:
        server = serializer.instance
        changed = [
            f
            for f in PAGING_FIELDS
            if f in serializer.validated_data and serializer.validated_data[f] != getattr(server, f)
        ]
        if changed and not may(self.request.user, "servers.change_server"):
            raise PermissionDenied(
                f"changing {' and '.join(changed)} needs staff or the permission servers.change_server"
            )
        serializer.save()
        registry.forget()  # active or hostname may have changed
        token_cache.clear()

    def perform_destroy(self, instance: Server) -> None:
        instance.delete()
        registry.forget()
        token_cache.clear()
