"""API shapes of the inventory."""

from __future__ import annotations

from rest_framework import serializers

from servers.choices import ServerKind, ServerStatus
from servers.models import Server


class ServerSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=ServerStatus.choices, read_only=True)
    server_id = serializers.UUIDField(source="id", read_only=True, help_text="the id, under the read APIs' name")

    class Meta:
        model = Server
        fields = [
            "id",
            "server_id",
            "hostname",
            "ip_address",
            "os",
            "kind",
            "environment",
            "owner_team",
            "labels",
            "agent_version",
            "external_id",
            "active",
            "maintenance_until",
            "depends_on",
            "last_seen",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "last_seen", "status", "created_at", "updated_at"]

    def validate_labels(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be an object")
        return value

    def validate_depends_on(self, parent: Server | None) -> Server | None:
        """A parent (switch, hypervisor) that does not, through its own parents, depend on this server."""
        seen = set()
        ancestor = parent
        while ancestor is not None and ancestor.pk not in seen:
            if self.instance is not None and ancestor.pk == self.instance.pk:
                raise serializers.ValidationError("a server cannot depend on itself, even through its parents")
            seen.add(ancestor.pk)
            ancestor = ancestor.depends_on
        return parent


class RegistrationSerializer(serializers.Serializer):
    """Seed 001's POST /api/v1/servers body, plus the inventory's own fields."""

    hostname = serializers.CharField(max_length=255)
    ip_address = serializers.IPAddressField(required=False, allow_null=True, allow_blank=True)
    os = serializers.CharField(max_length=255, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=ServerKind.choices, required=False)
    environment = serializers.CharField(max_length=64, required=False, allow_blank=True)
    owner_team = serializers.CharField(max_length=128, required=False, allow_blank=True)
    labels = serializers.DictField(required=False)
    agent_version = serializers.CharField(max_length=64, required=False, allow_blank=True)
    external_id = serializers.CharField(max_length=255, required=False, allow_blank=True)

    def validated_fields(self) -> dict:
        """The fields to set on the server; the environment defaults to ``labels.env`` (seed 001)."""
        fields = {k: v for k, v in self.validated_data.items() if k != "hostname"}
        if fields.get("ip_address") == "":
            fields["ip_address"] = None
        env = (fields.get("labels") or {}).get("env")
        if "environment" not in fields and isinstance(env, str) and env:
            fields["environment"] = env[:64]
        return fields
