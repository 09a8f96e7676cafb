"""The alerting API: rules, alerts and acknowledgement, silences, and the seeds' alert and notification endpoints."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from alerts import seed002
from alerts.api.serializers import (
    AlertDetailSerializer,
    AlertRuleSerializer,
    AlertSerializer,
    BulkSerializer,
    ChannelSerializer,
    NotificationSerializer,
    SilenceSerializer,
)
from alerts.choices import OPEN_STATES, AlertState, Severity
from alerts.models import Alert, AlertRule, AlertTransition, Notification, NotificationChannel, Silence
from monitoring.timestamps import iso, iso_or_none
from servers.permissions import StaffOrModelPermission, may


class AlertRuleViewSet(viewsets.ModelViewSet):
    """Alert rules. Reading is open to the team; creating, changing and deleting takes staff or the
    matching model permission (alerts.add_alertrule, change_alertrule, delete_alertrule)."""

    serializer_class = AlertRuleSerializer
    permission_classes = [StaffOrModelPermission]
    queryset = AlertRule.objects.select_related("created_by").order_by("name")

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)


def _choice(params, name: str, choices) -> str | None:
    value = params.get(name)
    if value and value not in choices:
        raise ValidationError({name: f"one of {', '.join(choices)}"})
    return value or None


def filter_alerts(queryset, params):
    """state (pending, firing, resolved, or open), severity, server (id or hostname), rule."""
    state = params.get("state")
    if state == "open":
        queryset = queryset.filter(state__in=OPEN_STATES)
    elif _choice(params, "state", [*AlertState.values, "open"]):
        queryset = queryset.filter(state=state)
    if severity := _choice(params, "severity", Severity.values):
        queryset = queryset.filter(severity=severity)
    if server := params.get("server"):
        try:
            queryset = queryset.filter(server_id=uuid.UUID(server))
        except ValueError:
            queryset = queryset.filter(server__hostname=server)
    if rule := params.get("rule"):
        if not rule.isdigit():
            raise ValidationError({"rule": "a rule id"})
        queryset = queryset.filter(rule_id=int(rule))
    return queryset


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Alerts, newest first; filters: state, severity, server, rule."""

    def get_queryset(self):
        alerts = Alert.objects.select_related("rule", "server", "acknowledged_by").order_by("-started_at", "-id")
        if self.action == "retrieve":
            alerts = alerts.prefetch_related("transitions")
        return filter_alerts(alerts, self.request.query_params)

    def get_serializer_class(self):
        return AlertDetailSerializer if self.action == "retrieve" else AlertSerializer

    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk=None) -> Response:
        alert = self.get_object()
        alert.acknowledge(request.user)
        return Response(AlertSerializer(alert).data)


class SilenceViewSet(viewsets.ModelViewSet):
    """Silences; DELETE expires a silence now (it stays in the history). ``?active=true`` for current ones.
    Reading is open to the team; the rest takes staff or alerts.add_silence / change_silence / delete_silence."""

    serializer_class = SilenceSerializer
    permission_classes = [StaffOrModelPermission]

    def get_queryset(self):
        silences = Silence.objects.select_related("created_by").order_by("-starts_at", "-id")
        if self.request.query_params.get("active") == "true":
            silences = silences.active()
        return silences

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        silence = self.get_object()
        now = timezone.now()
        if silence.ends_at > now:
            silence.ends_at = max(now, silence.starts_at)
            silence.save(update_fields=["ends_at"])
        return Response(status=status.HTTP_204_NO_CONTENT)


LIMIT = OpenApiParameter("limit", int, description="at most this many (1-1000, default 100)")


# --- seed 002 -----------------------------------------------------------------------
def _limit(request: Request, default: int = 100, most: int = 1000) -> int:
    raw = request.query_params.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise ValidationError({"limit": f"an integer from 1 to {most}"})
    return int(raw)


@extend_schema(responses={200: {"type": "array", "items": {"type": "object"}}}, parameters=[LIMIT])
@api_view(["GET"])
def recent_alerts(request: Request) -> Response:
    """Seed 002: recent alert events (transitions) within ALERT_RETENTION_SECONDS, newest first."""
    since = timezone.now() - timedelta(seconds=settings.ALERT_RETENTION_SECONDS)
    steps = (
        AlertTransition.objects.filter(at__gte=since)
        .exclude(from_state=F("to_state"))  # acknowledgements are not events
        .select_related("alert__rule", "alert__server")
        .order_by("-at", "-id")[: _limit(request)]
    )
    return Response([seed002.alert_event(step.alert, step.to_state, step.at, step.value) for step in steps])


# --- seed 004 -----------------------------------------------------------------------
def _health_alert(alert: Alert) -> dict:
    return {
        "id": str(alert.pk),
        "alert_id": str(alert.pk),
        "service_name": alert.labels.get("service") or (alert.server.hostname if alert.server_id else ""),
        **alert.read_names(),
        "severity": alert.severity,
        "status": alert.state,
        "message": alert.summary,
        "timestamp": iso(alert.started_at),
        "acknowledged": alert.acknowledged,
        "acknowledged_by": alert.acknowledged_by.get_username() if alert.acknowledged_by_id else None,
        "acknowledged_at": iso_or_none(alert.acknowledged_at),
        "value": alert.value,
        "rule": alert.rule.name,
    }


@extend_schema(
    responses={200: OpenApiTypes.OBJECT},
    parameters=[
        LIMIT,
        OpenApiParameter("severity", str, enum=Severity.values),
        OpenApiParameter("acknowledged", bool),
    ],
)
@api_view(["GET"])
def health_alerts(request: Request) -> Response:
    """Seed 004: the active (pending and firing) alerts; ``?severity=``, ``?acknowledged=false``."""
    alerts = filter_alerts(
        Alert.objects.filter(state__in=OPEN_STATES).select_related("rule", "server", "acknowledged_by"),
        request.query_params,
    ).order_by("-started_at", "-id")
    acknowledged = request.query_params.get("acknowledged")
    if acknowledged in ("true", "false"):
        alerts = alerts.filter(acknowledged_at__isnull=acknowledged == "false")
    rows = [_health_alert(a) for a in alerts[: _limit(request)]]
    return Response({"alerts": rows, "total": len(rows), "timestamp": iso(timezone.now())})


@extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
@api_view(["POST"])
def health_acknowledge(request: Request, alert_id: int) -> Response:
    """Seed 004: acknowledge an alert."""
    alert = get_object_or_404(Alert.objects.select_related("rule", "server"), pk=alert_id)
    changed = alert.acknowledge(request.user)
    return Response(
        {
            "status": "acknowledged" if changed else "already acknowledged",
            "alert_id": str(alert.pk),
            "acknowledged_by": alert.acknowledged_by.get_username() if alert.acknowledged_by_id else None,
            "acknowledged_at": iso(alert.acknowledged_at),
        }
    )


class NotificationViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Seed 004: in-console notifications; ``?unread_only=true``, ``?type=``."""

    serializer_class = NotificationSerializer

    def get_queryset(self):
        notices = Notification.objects.order_by("-created_at", "-id")
        params = self.request.query_params
        if params.get("unread_only") == "true" or params.get("read") == "false":
            notices = notices.filter(read=False)
        if kind := params.get("type"):
            notices = notices.filter(level=kind)
        return notices

    @extend_schema(
        request=BulkSerializer,
        responses={
            200: inline_serializer(
                "NotificationsChanged", {"action": serializers.CharField(), "updated": serializers.IntegerField()}
            )
        },
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        body = BulkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        notices = Notification.objects.all()
        if not body.validated_data["all"]:
            notices = notices.filter(pk__in=body.validated_data["ids"])
        act = body.validated_data["action"]
        if act == "delete" and not may(request.user, "alerts.delete_notification"):
            raise PermissionDenied("deleting notifications needs staff or the permission alerts.delete_notification")
        if act == "delete":
            count = notices.delete()[0]
        elif act == "mark_unread":
            count = notices.update(read=False, read_at=None)
        else:
            count = notices.filter(read=False).update(read=True, read_at=timezone.now())
        return Response({"action": act, "updated": count})

    @extend_schema(
        responses={200: inline_serializer("NotificationChannels", {"channels": ChannelSerializer(many=True)})}
    )
    @action(detail=False, methods=["get"])
    def channels(self, request: Request) -> Response:
        channels = NotificationChannel.objects.order_by("name")
        return Response({"channels": ChannelSerializer(channels, many=True).data})
