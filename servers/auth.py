"""Who is calling: agents (ingest) and people (read and management APIs).

Agents send ``Authorization: Bearer <token>`` or ``X-Agent-Token: <token>``
(seed 002). WebSocket clients may also pass ``?token=``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from servers.choices import TokenKind
from servers.models import AgentToken, hash_token


def raw_token(headers, query=None) -> str:
    """The bearer token a request carries, from its headers (or ?token=), or ''."""
    auth = headers.get("Authorization") or headers.get("authorization") or ""
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    agent = headers.get("X-Agent-Token") or headers.get("x-agent-token")
    if agent:
        return agent.strip()
    if query is not None:
        return (query.get("token") or "").strip()
    return ""


SHARED = "shared"
ANONYMOUS = "anonymous"


class IngestAuthError(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Agent:
    """What an ingest request may do: write for one server, or (fleet) for any."""

    kind: str  # agent, fleet, shared (seed 002's AGENT_API_TOKEN) or anonymous
    token_id: int | None = None
    server_id: uuid.UUID | None = None
    # the token's server is disabled (``Server.active`` off): it takes no writes
    disabled: bool = False
    # the hostname of the token's server (agent tokens), to name it when a body names another host
    hostname: str = ""

    @property
    def may_register(self) -> bool:
        return self.kind in (TokenKind.FLEET, SHARED, ANONYMOUS)

    @property
    def is_per_host(self) -> bool:
        """Many hosts speak under this identity (a fleet token, the shared token, anonymous
        agents): each host gets its own rate limit and receipts, named by the host a body
        writes for. A fleet token is also bounded as a whole (FLEET_RATE_LIMIT_PER_MINUTE)."""
        return self.kind != TokenKind.AGENT

    @property
    def key(self) -> str:
        """The identity throttles and idempotency are kept under (see ``identity`` for per-host agents)."""
        return f"t{self.token_id}" if self.token_id else self.kind

    def identity(self, hosts) -> str:
        """The identity of one request: the token, or for per-host agents the hosts it wrote for."""
        if not self.is_per_host or not hosts:
            return self.key
        names = ",".join(sorted(str(host) for host in hosts))
        if len(names) > 200:  # a receiver's request for many hosts: a bounded key all the same
            names = hashlib.blake2b(names.encode(), digest_size=16).hexdigest()
        return f"{self.key}:{names}"

    def may_write_for(self, server_id) -> bool:
        if self.kind == TokenKind.AGENT:
            return str(server_id) == str(self.server_id)
        return True


class _TokenCache:
    """digest -> (Agent, expires); keeps the hot path off the tokens table."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Agent | None, float]] = {}
        self._touched: dict[int, float] = {}

    def get(self, digest: str):
        entry = self._entries.get(digest)
        if entry and entry[1] > time.monotonic():
            return entry
        return None

    def put(self, digest: str, agent: Agent | None) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[digest] = (agent, time.monotonic() + settings.TOKEN_CACHE_SECONDS)

    def should_touch(self, token_id: int) -> bool:
        now = time.monotonic()
        if now - self._touched.get(token_id, 0) < 60:
            return False
        self._touched[token_id] = now
        return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._touched.clear()


token_cache = _TokenCache()


def is_shared_agent_token(raw: str) -> bool:
    """Whether ``raw`` is seed 002's shared AGENT_API_TOKEN, compared in constant time (no timing oracle)."""
    return hmac.compare_digest(raw.encode(), settings.AGENT_API_TOKEN.encode())


def authenticate_agent(headers) -> Agent:
    """The Agent behind an ingest request; IngestAuthError(401/403) when there is none."""
    agent = known_agent(headers)
    if agent is None:
        raw = raw_token(headers)
        token = AgentToken.find(raw)
        if token is not None:
            disabled = token.server is not None and not token.server.active
            agent = Agent(
                kind=token.kind,
                token_id=token.pk,
                server_id=token.server_id,
                disabled=disabled,
                hostname=token.server.hostname if token.server is not None else "",
            )
        token_cache.put(hash_token(raw), agent)
        agent = _checked(agent)
    if agent.token_id and token_cache.should_touch(agent.token_id):
        AgentToken.objects.filter(pk=agent.token_id).update(last_used_at=timezone.now())
    return agent


def known_agent(headers) -> Agent | None:
    """What memory alone knows of a request's agent, without a query: the Agent, IngestAuthError
    (no token, or one known to be bad), or None when the token must be looked up.

    Lets the web process refuse a request from its headers before reading its body.
    """
    raw = raw_token(headers)
    if not raw:
        if settings.INGEST_ALLOW_ANONYMOUS:
            return Agent(kind=ANONYMOUS)
        raise IngestAuthError(401, "missing agent token: send Authorization: Bearer <token> or X-Agent-Token")
    if settings.AGENT_API_TOKEN and is_shared_agent_token(raw):
        return Agent(kind=SHARED)
    cached = token_cache.get(hash_token(raw))
    if cached is None:
        return None
    return _checked(cached[0])


def _checked(agent: Agent | None) -> Agent:
    if agent is None:
        raise IngestAuthError(401, "invalid or revoked agent token")
    if agent.kind == TokenKind.USER:
        raise IngestAuthError(403, "a person's API token cannot write; issue an agent or fleet token")
    if agent.disabled:
        raise IngestAuthError(403, f"server {agent.server_id} is disabled; an admin can enable it")
    return agent


def person_token(raw: str) -> tuple:
    """(user, token) for a person's API token; IngestAuthError 401 (unknown, inactive) or 403 (an agent's)."""
    token = AgentToken.find(raw)
    if token is None:
        raise IngestAuthError(401, "invalid or revoked token")
    if token.kind != TokenKind.USER or token.user is None:
        raise IngestAuthError(403, "agent tokens can only write; use a person's API token to read")
    if not token.user.is_active:
        raise IngestAuthError(401, "user inactive")
    if token_cache.should_touch(token.pk):
        AgentToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user, token


def basic_auth_password(headers) -> str:
    """The password of an ``Authorization: Basic`` header (where tools like promtool put a token), or ''."""
    auth = headers.get("Authorization") or ""
    if auth[:6].lower() != "basic ":
        return ""
    try:
        decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[2].strip()


class PersonTokenAuthentication(authentication.BaseAuthentication):
    """DRF authentication for people's API tokens (``issue_token --user``).

    Agent and fleet tokens are refused with 403: they may only write. A read-only
    person's token is refused with 403 on anything but GET, HEAD and OPTIONS.
    """

    def authenticate(self, request):
        raw = raw_token(request.headers)
        if not raw:
            return None
        try:
            user, token = person_token(raw)
        except IngestAuthError as exc:
            if exc.status == 403:
                raise exceptions.PermissionDenied(exc.detail)
            raise exceptions.AuthenticationFailed(exc.detail)
        if token.read_only and request.method not in permissions.SAFE_METHODS:
            raise exceptions.PermissionDenied("this token is read-only: it can only read")
        return user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class RegistrationAuthentication(PersonTokenAuthentication):
    """For POST /api/v1/servers: people's tokens as usual, and agents' tokens too.

    An agent or fleet token authenticates as ``(AnonymousUser, Agent)``; the
    view's permission decides what an agent may do (register, nothing else).
    """

    def authenticate(self, request):
        raw = raw_token(request.headers)
        if not raw:
            return None
        if raw.startswith(AgentToken.PREFIXES[TokenKind.USER]):
            return super().authenticate(request)
        try:
            agent = authenticate_agent(request.headers)
        except IngestAuthError as exc:
            if exc.status == 403:
                raise exceptions.PermissionDenied(exc.detail)
            raise exceptions.AuthenticationFailed(exc.detail)
        return AnonymousUser(), agent
