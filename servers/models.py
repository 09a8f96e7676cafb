"""The inventory: servers (hosts and services) and the tokens that speak for them."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from servers.choices import ServerKind, ServerStatus, TokenKind


class ServerQuerySet(models.QuerySet):
    def with_status(self, status: str, now=None) -> ServerQuerySet:
        """Servers whose status (from last_seen, see ``status_for``) is ``status``, decided in SQL."""
        now = now or timezone.now()
        stale_after = now - timedelta(seconds=settings.SERVER_STALE_SECONDS)
        down_after = now - timedelta(seconds=settings.SERVER_DOWN_SECONDS)
        if status == ServerStatus.UP:
            return self.filter(last_seen__gte=stale_after)
        if status == ServerStatus.STALE:
            return self.filter(last_seen__lt=stale_after, last_seen__gte=down_after)
        if status == ServerStatus.DOWN:
            return self.filter(Q(last_seen__isnull=True) | Q(last_seen__lt=down_after))
        raise ValueError(f"unknown status {status!r}")

    def with_label(self, matcher: str) -> ServerQuerySet:
        """``key:value`` matches that label's value; a bare ``key`` matches servers that have the label."""
        key, sep, value = matcher.partition(":")
        if not sep:
            return self.filter(labels__has_key=key)
        return self.filter(labels__contains={key: value})


class Server(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    hostname = models.CharField(max_length=255, unique=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    os = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=16, choices=ServerKind.choices, default=ServerKind.HOST)
    environment = models.CharField(max_length=64, blank=True, db_index=True)
    owner_team = models.CharField(max_length=128, blank=True, db_index=True)
    labels = models.JSONField(default=dict, blank=True)
    agent_version = models.CharField(max_length=64, blank=True)
    # the id an agent calls itself by (seed 000's server_id), kept as sent
    external_id = models.CharField(max_length=255, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True, db_index=True)
    active = models.BooleanField(default=True)
    maintenance_until = models.DateTimeField(null=True, blank=True)
    # a switch or hypervisor this server sits behind: while it is down, this server's host-down alert is
    # suppressed by the parent's (docs: "Less noise")
    depends_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="dependents")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ServerQuerySet.as_manager()

    class Meta:
        ordering = ["hostname"]
        indexes = [models.Index(fields=["kind", "hostname"])]

    def __str__(self) -> str:
        return self.hostname

    @classmethod
    def register(cls, hostname: str, **fields) -> tuple[Server, bool]:
        """Create the server, or update the one with this hostname (same id); answers (server, created)."""
        with transaction.atomic():
            server, created = cls.objects.select_for_update().get_or_create(hostname=hostname, defaults=fields)
            if not created and fields:
                for name, value in fields.items():
                    setattr(server, name, value)
                server.save(update_fields=[*fields, "updated_at"])
        return server, created

    def disable(self) -> None:
        """Take no more writes from this server's agents (its tokens stay, and work again once enabled)."""
        if self.active:
            self.active = False
            self.save(update_fields=["active", "updated_at"])

    @property
    def status(self) -> ServerStatus:
        return status_for(self.last_seen)

    @property
    def in_maintenance(self) -> bool:
        return self.maintenance_until is not None and self.maintenance_until > timezone.now()


def hostname_sql(server_id_column: str) -> str:
    """SQL naming the hostname of the server whose id is in ``server_id_column`` (NULL for none).

    A scalar subquery on the primary key: a read of rows that carry a server id names
    their host in its own statement, never a query per row.
    """
    return f"(SELECT h.hostname FROM {Server._meta.db_table} h WHERE h.id = {server_id_column})"


def status_for(last_seen, now=None) -> ServerStatus:
    """up / stale / down from the time of last contact (thresholds in settings)."""
    if last_seen is None:
        return ServerStatus.DOWN
    age = (now or timezone.now()) - last_seen
    if age <= timedelta(seconds=settings.SERVER_STALE_SECONDS):
        return ServerStatus.UP
    if age <= timedelta(seconds=settings.SERVER_DOWN_SECONDS):
        return ServerStatus.STALE
    return ServerStatus.DOWN


def hash_token(raw: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast digest is enough (no password KDF).
    return hashlib.sha256(raw.encode()).hexdigest()


class AgentToken(models.Model):
    """A bearer token, stored as its SHA-256; the plain token is shown once, when issued.

    kind agent: writes for its own server only. kind fleet: writes for any server
    and registers unknown hostnames. kind user: a person's token for the read and
    management APIs; it cannot write samples.
    """

    PREFIXES = {TokenKind.AGENT: "mca_", TokenKind.FLEET: "mcf_", TokenKind.USER: "mcu_"}

    kind = models.CharField(max_length=8, choices=TokenKind.choices, default=TokenKind.AGENT)
    server = models.ForeignKey(Server, null=True, blank=True, on_delete=models.CASCADE, related_name="tokens")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=128, blank=True)
    read_only = models.BooleanField(
        default=False, help_text="a person's token that may only read (GET), whatever its owner may do"
    )
    prefix = models.CharField(max_length=16, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        owner = self.server or self.user or "fleet"
        return f"{self.prefix}… ({self.kind}, {owner})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def issue(
        cls, kind: str, *, server: Server | None = None, user=None, name: str = "", read_only: bool = False
    ) -> tuple[AgentToken, str]:
        """Create a token; answer it with the plain secret, which is never stored."""
        raw = cls.PREFIXES[TokenKind(kind)] + secrets.token_urlsafe(32)
        token = cls.objects.create(
            kind=kind,
            server=server,
            user=user,
            name=name,
            read_only=read_only,
            prefix=raw[:12],
            digest=hash_token(raw),
        )
        return token, raw

    @classmethod
    def find(cls, raw: str) -> AgentToken | None:
        """The active token for a plain secret, or None."""
        if not raw:
            return None
        return (
            cls.objects.select_related("server", "user").filter(digest=hash_token(raw), revoked_at__isnull=True).first()
        )

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
