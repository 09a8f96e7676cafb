"""Prometheus' HTTP query API under /prometheus/api/v1/, for Grafana, promtool and other Prometheus clients.

Parameters come from the query string or a POST form body (Grafana posts
forms); answers are Prometheus' JSON (``{"status": "success", "data": ...}``)
and its errors (``bad_data`` 400 for a bad parameter or query, ``execution``
422 for a query that cannot be evaluated). Callers are people: a person's API
token as Bearer, or as the password of HTTP basic auth (what promtool sends
for ``http://user:TOKEN@console/prometheus``), or a logged-in session.

These views only read; they are exempt from CSRF so that tools can POST
forms, and a cross-site page cannot read their answers anyway.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable

import orjson
import promql_parser as pp
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from monitoring import promql
from monitoring.promql.catalog import Matcher
from monitoring.promql.model import NAME, Labels
from monitoring.timestamps import BadTimestamp, from_text
from servers.auth import IngestAuthError, basic_auth_password, person_token, raw_token

MAX_POINTS = 11_000
VERSION = "2.42.0"
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Prometheus' "all time" when start / end are left out
MIN_MS = -62_135_596_800_000
MAX_MS = 253_402_300_799_000


class ParamError(promql.BadData):
    def __init__(self, name: str, message: str):
        super().__init__(f'invalid parameter "{name}": {message}')


def answer(data, status: int = 200) -> HttpResponse:
    body = {"status": "success", "data": data}
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/json")


def failure(kind: str, message: str, status: int) -> HttpResponse:
    body = {"status": "error", "errorType": kind, "error": message}
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="prometheus", Bearer'
    return response


def authenticated(request: HttpRequest) -> HttpResponse | None:
    """None when a person is calling; else the 401 / 403 answer."""
    raw = raw_token(request.headers) or basic_auth_password(request.headers)
    if raw:
        try:
            person_token(raw)
        except IngestAuthError as exc:
            return failure("unauthorized" if exc.status == 401 else "forbidden", exc.detail, exc.status)
        return None
    if request.user.is_authenticated:
        return None
    return failure("unauthorized", "send a person's API token (Bearer or basic auth password) or log in", 401)


def endpoint(view: Callable) -> Callable:
    """GET and POST, people only, PromQLError answered as Prometheus does."""

    @csrf_exempt
    @require_http_methods(["GET", "POST"])
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        refused = authenticated(request)
        if refused is not None:
            return refused
        try:
            return answer(view(request, *args, **kwargs))
        except promql.PromQLError as exc:
            return failure(exc.kind, exc.message, exc.status)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def param(request: HttpRequest, name: str) -> str:
    # like Go's Request.FormValue: the body's form first, then the query string
    return request.POST.get(name) or request.GET.get(name) or ""


def params(request: HttpRequest, name: str) -> list[str]:
    return request.POST.getlist(name) + request.GET.getlist(name)


def parse_time(text: str, name: str) -> int:
    """Milliseconds from Unix seconds (``1700000000.5``) or RFC 3339 (``2025-11-20T10:00:00Z``)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None and math.isfinite(seconds):
        whole = math.trunc(seconds)
        return whole * 1000 + round((seconds - whole) * 1000)
    try:  # numbers are always seconds here, as Prometheus reads them: only the text goes to the shared parser
        moment = from_text(text, require_zone=True)
    except BadTimestamp:
        raise ParamError(name, f'cannot parse "{text}" to a valid timestamp')
    return round(moment.timestamp() * 1000)


def parse_step(text: str, name: str = "step") -> int:
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None and math.isfinite(seconds):
        return int(seconds * 1000)
    try:
        return round(pp.parse_duration(text).total_seconds() * 1000)
    except (ValueError, OverflowError):
        raise ParamError(name, f'cannot parse "{text}" to a valid duration') from None


def time_range(request: HttpRequest) -> tuple[int, int]:
    start = param(request, "start")
    end = param(request, "end")
    return (parse_time(start, "start") if start else MIN_MS, parse_time(end, "end") if end else MAX_MS)


@endpoint
def query(request: HttpRequest) -> dict:
    """GET/POST /prometheus/api/v1/query: an instant query (``query``, ``time``)."""
    at = param(request, "time")
    at_ms = parse_time(at, "time") if at else round(time.time() * 1000)
    try:
        return promql.instant_query(param(request, "query"), at_ms)
    except promql.BadData as exc:
        if isinstance(exc, ParamError):
            raise
        raise ParamError("query", exc.message) from None


@endpoint
def query_range(request: HttpRequest) -> dict:
    """GET/POST /prometheus/api/v1/query_range: ``query`` at ``start``, ``start + step``, ... ``end``."""
    start = parse_time(param(request, "start"), "start")
    end = parse_time(param(request, "end"), "end")
    if end < start:
        raise ParamError("end", "end timestamp must not be before start time")
    step = parse_step(param(request, "step"))
    if step <= 0:
        raise ParamError(
            "step", "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    if (end - start) // step > MAX_POINTS:
        raise promql.BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. "
            "Try decreasing the query resolution (?step=XX)"
        )
    return promql.range_query(param(request, "query"), start, end, step)


def _selected(request: HttpRequest, required: bool) -> list[Labels]:
    """The label sets of the series the match[] selectors name (all series without any) in the time range."""
    selectors = params(request, "match[]")
    if required and not selectors:
        raise promql.BadData("no match[] parameter provided")
    start, end = time_range(request)
    reader = promql.reader()
    found: dict[int, Labels] = {}
    for text in selectors or ['{__name__=~".+"}']:
        for series_id, labels in reader.series(promql.parse_selector(text)):
            found[series_id] = labels
    if (start, end) != (MIN_MS, MAX_MS):
        present = reader.has_samples(list(found), start, end)
        found = {sid: labels for sid, labels in found.items() if sid in present}
    return list(found.values())


@endpoint
def series(request: HttpRequest) -> list[dict]:
    """GET/POST /prometheus/api/v1/series: the label sets matching ``match[]``."""
    return [dict(labels) for labels in sorted(_selected(request, required=True))]


@endpoint
def labels(request: HttpRequest) -> list[str]:
    """GET/POST /prometheus/api/v1/labels: every label name (of the ``match[]`` series if given)."""
    return sorted({name for found in _selected(request, required=False) for name, _ in found})


@endpoint
def label_values(request: HttpRequest, name: str) -> list[str]:
    """GET /prometheus/api/v1/label/{name}/values."""
    if not _LABEL_NAME.match(name):
        raise promql.BadData(f'invalid label name: "{name}"')
    return sorted({value for found in _selected(request, required=False) for key, value in found if key == name})


@endpoint
def metadata(request: HttpRequest) -> dict:
    """GET /prometheus/api/v1/metadata: each metric's type and help (receivers' metadata is not kept)."""
    wanted = param(request, "metric")
    limit = param(request, "limit")
    matchers = [Matcher("=", NAME, wanted)] if wanted else [Matcher("=~", NAME, ".+")]
    found: dict[str, list[dict]] = {}
    for _, labels in promql.reader().series(matchers):
        name = dict(labels)[NAME]
        if name not in found:
            found[name] = [_describe(name)]
    names = sorted(found)
    if limit and limit.lstrip("-").isdigit() and int(limit) >= 0:
        names = names[: int(limit)]
    return {name: found[name] for name in names}


def _describe(name: str) -> dict:
    kind = "counter" if name.endswith(("_total", "_count", "_sum")) else "unknown"
    if name.endswith("_bucket"):
        kind = "histogram"
    return {"type": kind, "help": "", "unit": ""}


@endpoint
def buildinfo(request: HttpRequest) -> dict:
    """GET /prometheus/api/v1/status/buildinfo: the Prometheus version whose query semantics are followed."""
    return {
        "version": VERSION,
        "revision": "monitoring-console",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    }


@endpoint
def rules(request: HttpRequest) -> dict:
    """GET /prometheus/api/v1/rules: the console's alert rules are not Prometheus rules (Grafana asks)."""
    return {"groups": []}


@endpoint
def alerts(request: HttpRequest) -> dict:
    """GET /prometheus/api/v1/alerts: see /api/v1/alerts for the console's own alerts."""
    return {"alerts": []}


@endpoint
def query_exemplars(request: HttpRequest) -> list:
    """GET/POST /prometheus/api/v1/query_exemplars: no exemplars are kept (Grafana asks anyway)."""
    return []
