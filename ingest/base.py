"""The lean machinery every ingest endpoint shares.

DRF serves the API surface; ingest is the hot path, so it is a plain Django
view: authenticate (401/403), refuse a body over the limit (413), throttle the
agent (429 with Retry-After), let the wire-format adapter decode and validate
(400 naming the field path), write the batch in one transaction (2xx only
after commit; 503 with Retry-After when the database is unreachable), publish
one coalesced live message, answer.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from functools import wraps

import orjson
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from config.errors import error_body
from ingest.errors import BadInput, Refused
from monitoring import partitions, records, storage
from monitoring.live.publisher import publish_write
from servers.auth import IngestAuthError, authenticate_agent
from servers.choices import TokenKind
from servers.throttle import rate_limiter

log = logging.getLogger(__name__)

# An adapter turns (request, agent, body) into a Batch, or raises BadInput / Refused / IngestAuthError.
# (request, agent, body, **the URL's keyword arguments) -> the normalized batch
Adapter = Callable[..., records.Batch]
# Shapes a refusal for a wire format whose clients expect their own error body:
# (request, status, detail, errors, headers) -> response.
Refuse = Callable[[HttpRequest, int, str, list | None, dict | None], HttpResponse]


def json_response(body, status: int = 200, headers: dict | None = None) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(status: int, detail: str, errors: list | None = None, headers: dict | None = None):
    return json_response(error_body(detail, errors), status=status, headers=headers)


def receipt_key(request: HttpRequest, identity: str, body: bytes, batch: records.Batch) -> str | None:
    """What names a retry of this request, per agent identity and path; None when nothing can.

    An ``Idempotency-Key`` header always does. Without one, a digest of the body
    does only when every record in it carries its own timestamp: an idle host
    posting the same values without times every 10 s sends new data each time.
    The path and the whole key are hashed in, so two services' paths or two long
    keys sharing a prefix never collide.
    """
    supplied = request.headers.get("Idempotency-Key")
    if supplied:
        kind, material = "k", supplied.encode()
    elif batch.timestamped:
        kind, material = "b", body
    else:
        return None
    # sha256, cut to 20 bytes: with the CPU's SHA extensions it hashes a 137 KiB body in 0.67 ms, blake2b in 1.1 ms
    digest = hashlib.sha256(request.path.encode())
    digest.update(b"\0")
    digest.update(material)
    if len(identity) > 60:  # many hosts in one body: keep the key within the receipt's column
        identity = hashlib.blake2b(identity.encode(), digest_size=12).hexdigest()
    return f"{identity}:{kind}:{digest.hexdigest()[:40]}"


def ingest_endpoint(
    adapter: Adapter,
    *,
    respond: Callable | None = None,
    status: int = 202,
    idempotent=True,
    refuse: Refuse | None = None,
    rate_limit_setting: str = "AGENT_RATE_LIMIT_PER_MINUTE",
    throttle_status: int = 429,
    live_setting: str | None = None,
):
    """Wrap a wire-format adapter into a view with the shared rules of ingest.

    ``respond(batch, result)`` shapes the success body (default: counts); it may
    also return a whole ``HttpResponse`` (e.g. a protobuf body). ``refuse`` shapes
    error responses. The per-agent request limit is read from the setting named by
    ``rate_limit_setting``; over it, the answer is ``throttle_status`` with
    Retry-After (receivers answer 503, the one code all their clients retry).
    With ``live_setting``, stored batches are published live only while that
    setting is true.
    """

    def fail(request, code: int, detail: str, errors: list | None = None, headers: dict | None = None):
        if refuse is not None:
            return refuse(request, code, detail, errors, headers)
        return error_response(code, detail, errors=errors, headers=headers)

    def unavailable(request):
        return fail(request, 503, "storage is unavailable, retry later", headers={"Retry-After": "5"})

    @csrf_exempt
    @wraps(adapter)
    def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "POST":
            return fail(request, 405, "method not allowed; POST the payload", headers={"Allow": "POST"})
        try:
            agent = authenticate_agent(request.headers)
        except IngestAuthError as exc:
            headers = {"WWW-Authenticate": 'Bearer realm="ingest"'} if exc.status == 401 else None
            return fail(request, exc.status, exc.detail, headers=headers)
        except (OperationalError, InterfaceError):
            return unavailable(request)
        declared = int(request.headers.get("Content-Length") or 0)
        if declared > settings.INGEST_MAX_BODY_BYTES:
            return fail(request, 413, f"body over {settings.INGEST_MAX_BODY_BYTES} bytes")

        def throttled(identity: str, setting: str = rate_limit_setting, who: str = "this agent") -> HttpResponse | None:
            limit = getattr(settings, setting)
            wait = rate_limiter.retry_after(identity, limit)
            if wait is None:
                return None
            detail = f"over {limit} requests a minute for {who} ({setting})"
            return fail(request, throttle_status, detail, headers={"Retry-After": str(wait)})

        # a token's own agent is throttled before its body costs anything, a fleet token as a
        # whole too; hosts sharing one token (fleet, shared, anonymous) once the body names the host
        if not agent.is_per_host:
            refusal = throttled(agent.key)
        elif agent.kind == TokenKind.FLEET:
            refusal = throttled(agent.key, "FLEET_RATE_LIMIT_PER_MINUTE", who="this fleet token")
        else:
            refusal = None
        if refusal is not None:
            return refusal
        body = request.body
        if len(body) > settings.INGEST_MAX_BODY_BYTES:
            return fail(request, 413, f"body over {settings.INGEST_MAX_BODY_BYTES} bytes")
        try:
            batch = adapter(request, agent, body, *args, **kwargs)
        except BadInput as exc:
            return fail(request, 400, f"invalid payload: {exc}", errors=[exc.as_dict()])
        except Refused as exc:
            return fail(request, exc.status, exc.detail)
        except IngestAuthError as exc:
            return fail(request, exc.status, exc.detail)
        except DatabaseError as exc:  # e.g. registering a server while PostgreSQL restarts
            fault = storage.storage_fault(exc, "")
            if isinstance(fault, storage.StorageUnavailable):
                return unavailable(request)
            return fail(request, 400, f"invalid payload: {fault}", errors=[fault.as_dict()])
        identity = agent.identity(batch.seen)
        refusal = throttled(identity) if agent.is_per_host else None
        if refusal is not None:
            return refusal
        try:
            result = storage.write(batch, receipt=receipt_key(request, identity, body, batch) if idempotent else None)
        except partitions.TooManyNewDays as exc:
            # each retry creates the next days' partitions: a backfill gets in, a few days a request
            detail = f"storage for {len(exc.left)} more days is being prepared ({exc}); retry"
            return fail(request, 503, detail, headers={"Retry-After": "1"})
        except storage.TooManyNewSeries as exc:
            retry = str(exc.retry_after)
            return fail(request, throttle_status, str(exc), headers={"Retry-After": retry})
        except storage.StorageUnavailable as exc:
            log.warning("ingest write failed, answering 503: %s", exc)
            return unavailable(request)
        except storage.StorageRefused as exc:  # before the adapter's BadInput: nothing was stored
            log.warning("ingest write refused: %s", exc)
            return fail(request, 400, f"invalid payload: {exc}", errors=[exc.as_dict()])
        request.ingest_stats = result.as_dict()  # type: ignore[attr-defined]  # read by the request log
        if not result.duplicate and (live_setting is None or getattr(settings, live_setting)):
            publish_write(batch, result)
        body_out = respond(batch, result) if respond else {"status": "accepted", **result.as_dict()}
        if isinstance(body_out, HttpResponse):
            return body_out
        return json_response(body_out, status=status)

    return view
