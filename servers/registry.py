"""Which server a write is for: the rules every ingest adapter shares.

An agent token writes for its own server only. A fleet token (or anonymous
ingest, when allowed) names the server by id or by hostname, and an unknown
hostname is registered on first sight. A disabled server (``active`` off)
takes no writes.

Lookups are cached in-process for TOKEN_CACHE_SECONDS, so a fleet agent costs
no query per request and a server disabled or deleted elsewhere is noticed
within that time.
"""

from __future__ import annotations

import threading
import time
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction

from config.errors import BadInput
from servers.auth import Agent, IngestAuthError
from servers.choices import ServerKind
from servers.models import Server

_lock = threading.Lock()
# "h:<hostname>" or "i:<uuid>" -> (server id text, active, expires)
_known: dict[str, tuple[str, bool, float]] = {}


def forget() -> None:
    with _lock:
        _known.clear()


def _remember(key: str, server_id: str, active: bool) -> None:
    with _lock:
        if len(_known) > 100_000:
            _known.clear()
        _known[key] = (server_id, active, time.monotonic() + settings.TOKEN_CACHE_SECONDS)


def _recall(key: str) -> tuple[str, bool] | None:
    entry = _known.get(key)
    if entry is None or entry[2] < time.monotonic():
        return None
    return entry[0], entry[1]


def _register(hostname: str, kind: str, defaults: dict | None) -> tuple[str, bool]:
    fields = {"kind": kind, **{k: v for k, v in (defaults or {}).items() if v}}
    try:
        with transaction.atomic():
            server, _ = Server.objects.get_or_create(hostname=hostname, defaults=fields)
    except IntegrityError:  # registered by a concurrent request
        server = Server.objects.get(hostname=hostname)
    return str(server.id), server.active


def _refuse_disabled(server_id: str, active: bool) -> str:
    if not active:
        raise IngestAuthError(403, f"server {server_id} is disabled; an admin can enable it")
    return server_id


def refuse_other_host(agent: Agent, *, hostname: str | None = None, server_id: str | None = None) -> None:
    """403 when an agent token's body names a host other than the token's own server.

    A token copied to the wrong machine must not merge two hosts' graphs. Fleet
    tokens, the shared token and anonymous agents name their host in the body.
    """
    if agent.server_id is None:
        return
    named = None
    if server_id and str(server_id).lower() != str(agent.server_id):
        named = f"server_id {server_id}"
    elif hostname and agent.hostname and hostname.casefold() != agent.hostname.casefold():
        named = f"host {hostname}"
    if named is not None:
        raise IngestAuthError(
            403,
            f"this agent token belongs to server {agent.hostname or agent.server_id} ({agent.server_id}), "
            f"but the body names {named}; nothing was stored. Use that host's own token, or a fleet token",
        )


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
        key = f"i:{server_id}"
        found = _recall(key)
        if found is None:
            active = Server.objects.filter(pk=server_id).values_list("active", flat=True).first()
            if active is not None:
                found = (str(uuid.UUID(str(server_id))), active)
                _remember(key, *found)
        if found is not None:
            return _refuse_disabled(*found)
        if not hostname:
            raise BadInput("server_id", f"no server with id {server_id}; register it first")
    if not hostname:
        raise BadInput(field, "required: the server's hostname")
    key = f"h:{hostname}"
    found = _recall(key)
    if found is None:
        row = Server.objects.filter(hostname=hostname).values_list("id", "active").first()
        if row is not None:
            found = (str(row[0]), row[1])
        elif not agent.may_register:
            raise IngestAuthError(403, "only a fleet token may register servers")
        else:
            found = _register(hostname, kind, defaults)
        _remember(key, *found)
    return _refuse_disabled(*found)


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
