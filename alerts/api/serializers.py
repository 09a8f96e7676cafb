"""API shapes of the alerts app."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from rest_framework import serializers

from alerts.choices import NotificationLevel
from alerts.models import Alert, AlertRule, AlertTransition, Notification, NotificationChannel, Silence


def _string_map(value, field: str) -> dict:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise serializers.ValidationError({field: "an object of string values"})
    return value


class AlertRuleSerializer(serializers.ModelSerializer):
    builtin = serializers.CharField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AlertRule
        fields = [
            "id", "name", "kind", "enabled", "severity", "builtin",
            "metric_type", "metric_name", "metric_labels", "aggregate",
            "comparison", "threshold", "recovery_threshold", "window_seconds", "for_seconds", "trailing_seconds",
            "service", "pattern", "log_level", "event_status", "policy",
            "scope", "server", "server_labels",
            "labels", "summary", "description", "runbook_url",
            "created_by", "created_at", "updated_at", "last_evaluated_at", "last_error",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at", "last_evaluated_at", "last_error"]

    def validate(self, attrs: dict) -> dict:
        rule = self.instance or AlertRule()
        for key, value in attrs.items():
            setattr(rule, key, value)
        try:
            rule.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs


class TransitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertTransition
        fields = ["from_state", "to_state", "value", "at", "note"]


class AlertSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    # the read APIs' names (server and server_hostname kept for the scripts that read them)
    server_id = serializers.UUIDField(read_only=True, allow_null=True)
    hostname = serializers.CharField(source="server.hostname", read_only=True, default=None)
    server_hostname = serializers.CharField(source="server.hostname", read_only=True, default=None)
    metric_type = serializers.CharField(source="rule.metric_type", read_only=True)
    metric_name = serializers.CharField(source="rule.metric_name", read_only=True)
    timestamp = serializers.DateTimeField(source="started_at", read_only=True, help_text="when it started")
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    suppressed_by = serializers.SerializerMethodField(
        help_text="what keeps the alert from paging: {alert_id (the host-down alert, or null), reason}; null: nothing"
    )

    class Meta:
        model = Alert
        fields = [
            "id", "rule", "rule_name", "server_id", "hostname", "server", "server_hostname",
            "metric_type", "metric_name", "fingerprint", "state", "severity", "timestamp",
            "labels", "summary", "description", "runbook_url", "value", "trigger_value",
            "started_at", "fired_at", "resolved_at", "last_evaluated_at", "last_notified_at",
            "acknowledged_at", "acknowledged_by", "flapping", "suppressed_by", "escalated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_suppressed_by(self, alert: Alert) -> dict | None:
        return alert.suppression()


class AlertDetailSerializer(AlertSerializer):
    transitions = TransitionSerializer(many=True, read_only=True)
    suppressed = serializers.SerializerMethodField(help_text="for a host-down alert: the alerts it kept quiet")

    class Meta(AlertSerializer.Meta):
        # context: the process table and snapshot values frozen when the alert fired
        fields = [*AlertSerializer.Meta.fields, "context", "suppressed", "transitions"]
        read_only_fields = fields

    def get_suppressed(self, alert: Alert) -> list[dict]:
        return [
            {"id": a.pk, "rule": a.rule.name, "summary": a.summary, "state": a.state}
            for a in alert.suppressed_alerts.select_related("rule").order_by("started_at", "pk")
        ]


class SilenceSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    active = serializers.SerializerMethodField()
    match_all = serializers.BooleanField(
        write_only=True,
        default=False,
        help_text="staff only: yes, these matchers (only negations or wildcards) are meant to mute every alert",
    )

    class Meta:
        model = Silence
        fields = [
            "id", "matchers", "starts_at", "ends_at", "comment", "created_by", "created_at", "active", "match_all",
        ]  # fmt: skip
        read_only_fields = ["created_by", "created_at"]

    def get_active(self, silence: Silence) -> bool:
        return silence.is_active()

    def validate_matchers(self, value):
        return _string_map(value, "matchers")

    def validate(self, attrs: dict) -> dict:
        match_all = attrs.pop("match_all", False)
        starts = attrs.get("starts_at", getattr(self.instance, "starts_at", None)) or timezone.now()
        ends = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts and ends and ends <= starts:
            raise serializers.ValidationError({"ends_at": "must be after starts_at"})
        matchers = attrs.get("matchers", getattr(self.instance, "matchers", None))
        request = self.context.get("request")
        try:
            Silence(matchers=matchers or {}, starts_at=starts, ends_at=ends).check_allowed(
                getattr(request, "user", None), match_all=match_all
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs


class ChannelSerializer(serializers.ModelSerializer):
    """A channel as people see it: where it goes, never its secret."""

    type = serializers.CharField(source="kind", read_only=True)
    target = serializers.CharField(read_only=True)
    signed = serializers.SerializerMethodField()

    class Meta:
        model = NotificationChannel
        fields = ["id", "name", "type", "enabled", "target", "signed", "min_severity", "label_matchers",
                  "send_resolved", "provisioned"]  # fmt: skip
        read_only_fields = fields

    def get_signed(self, channel: NotificationChannel) -> bool:
        return bool(channel.config.get("secret"))


class NotificationSerializer(serializers.ModelSerializer):
    """Seed 004's notification: ``type`` is the level; ``metadata`` is free."""

    type = serializers.ChoiceField(source="level", choices=NotificationLevel.choices, default=NotificationLevel.INFO)
    timestamp = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "title", "message", "type", "source", "alert", "metadata", "read", "read_at", "timestamp"]
        read_only_fields = ["alert", "read", "read_at", "timestamp"]

    def validate_metadata(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("an object")
        return value


class BulkSerializer(serializers.Serializer):
    """Seed 004's bulk operation: mark notifications read (the default) or unread, or delete them."""

    notification_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)
    all = serializers.BooleanField(default=False)
    action = serializers.ChoiceField(choices=["mark_read", "mark_unread", "delete"], default="mark_read")

    def validate(self, attrs: dict) -> dict:
        ids = attrs.get("notification_ids") or attrs.get("ids")
        if not ids and not attrs["all"]:
            raise serializers.ValidationError({"notification_ids": "a list of ids, or all: true"})
        attrs["ids"] = ids or []
        return attrs
