"""Which server a write is for: the rules every ingest adapter shares.

An agent token writes for its own server only. A fleet token (or anonymous
ingest, when allowed) names the server by id or by hostname, and an unknown
hostname is registered on first sight.
"""

from __future__ import annotations

import threading
import uuid

from django.db import IntegrityError, transaction

from config.errors import BadInput
from servers.auth import Agent, IngestAuthError
from servers.choices import ServerKind
from servers.models import Server

_lock = threading.Lock()
_by_hostname: dict[str, str] = {}


def forget() -> None:
    with _lock:
        _by_hostname.clear()


def _register(hostname: str, kind: str, defaults: dict | None) -> str:
    fields = {"kind": kind, **(defaults or {})}
    try:
        with transaction.atomic():
            server, _ = Server.objects.get_or_create(hostname=hostname, defaults=fields)
    except IntegrityError:  # registered by a concurrent request
        server = Server.objects.get(hostname=hostname)
    return str(server.id)


def server_for(
    agent: Agent,
    *,
    hostname: str | None = None,
    server_id: str | None = None,
    kind: str = ServerKind.HOST,
    defaults: dict | None = None,
    field: str = "host",
) -> str:
    """The id (as text) of the server this write is for; IngestAuthError when the agent may not."""
    if agent.server_id is not None:
        if server_id and str(server_id) != str(agent.server_id) and _is_uuid(server_id):
            raise IngestAuthError(403, f"this agent token writes for server {agent.server_id} only")
        return str(agent.server_id)
    if server_id and _is_uuid(server_id):
        if Server.objects.filter(pk=server_id).exists():
            return str(server_id)
        if not hostname:
            raise BadInput("server_id", f"no server with id {server_id}; register it first")
    if not hostname:
        raise BadInput(field, "required: the server's hostname")
    cached = _by_hostname.get(hostname)
    if cached is not None:
        return cached
    if not agent.may_register:
        raise IngestAuthError(403, "only a fleet token may register servers")
    found = _register(hostname, kind, defaults)
    with _lock:
        if len(_by_hostname) > 100_000:
            _by_hostname.clear()
        _by_hostname[hostname] = found
    return found


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
