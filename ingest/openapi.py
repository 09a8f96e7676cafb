"""The ingest paths in the OpenAPI schema: request bodies, the seeds' examples, every answer.

The ingest views are lean Django views (no DRF serializer on the hot path), so
drf-spectacular does not see them. ``add_ingest_paths``, a postprocessing hook
(SPECTACULAR_SETTINGS), describes each route of ``ingest.routes.ROUTES`` from
``DOCS`` below: the path (without its trailing-slash twin), the body with an
example from the seeds' READMEs (ingest/examples.py), the success answer and the
one error shape (config/errors.py) for every refusal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from config.errors import ERROR_REF, ERROR_SCHEMA
from ingest import examples
from ingest.routes import ROUTES
from monitoring.api.schema import AGENT_TOKEN

# what every ingest path may refuse with, and why
REFUSALS = {
    "400": "The body cannot be stored as sent; `errors` names the field (e.g. `metrics[3].value`). Nothing is stored.",
    "401": "No token, or an unknown or revoked one.",
    "403": "The token may not write this (another host's, a person's, a read-only one).",
    "405": "Only POST.",
    "413": "The body is over INGEST_MAX_BODY_BYTES (or a log line over its limit).",
    "415": "A Content-Type this receiver does not read.",
    "429": "Over the agent's requests a minute; see Retry-After.",
    "503": "The database or the bodies in flight cannot take it now; nothing stored; retry after Retry-After.",
}

STORED = {
    "type": "object",
    "description": "What was stored (samples, logs, events) and whether the request was a retry (`duplicate`).",
    "additionalProperties": True,
}

OBJECT = {"type": "object", "additionalProperties": True}
BINARY = {"type": "string", "format": "binary"}
# OTLP answers in the request's encoding (protobuf when none is named), refusals as a google.rpc.Status
OTLP_ENCODINGS = ("application/json", "application/x-protobuf")
OTLP_STATUS = {"type": "object", "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}}
LIST_OF_OBJECTS = {"type": "array", "items": OBJECT}


@dataclass(frozen=True)
class RouteDoc:
    summary: str
    description: str
    example: object = None
    success: str = "200"
    media_type: str = "application/json"
    body_schema: dict = field(default_factory=lambda: OBJECT)
    answer: dict | None = field(default_factory=lambda: STORED)  # None: no body (204)
    answered_in: tuple[str, ...] = ("application/json",)
    refusal: dict = field(default_factory=lambda: ERROR_REF)


DOCS: dict[str, RouteDoc] = {
    "ingest-seed000": RouteDoc(
        "A host's snapshot (seed 000's Go agent)",
        "One snapshot: metrics, docker events, container logs and local alerts of `host`.",
        examples.SEED000_FULL,
    ),
    "ingest-seed001": RouteDoc(
        "Metrics in bulk (seed 001)",
        "Samples of a registered server (`server_id`), each with its type, name, labels and time.",
        examples.seed001_body("3f2b6c1e-8d4a-4f7e-9a51-2c6d0e8b7f10"),
        success="202",
    ),
    "ingest-seed002": RouteDoc(
        "CPU and top processes (seed 002's Windows agent, X-Agent-Token)",
        "The host's total CPU and its busiest processes; the token (or `X-Agent-Token`) names the host.",
        examples.SEED002_BODY,
    ),
    "logs-stream": RouteDoc(
        "A batch of a service's logs (seed 004)",
        "Log lines of the service named in the path.",
        examples.SEED004_BATCH,
        success="202",
    ),
    "logs-stream-single": RouteDoc(
        "One log line of a service (seed 004)",
        "One log line of the service named in the path.",
        examples.SEED004_SINGLE,
        success="202",
    ),
    "logs-stream-continuous": RouteDoc(
        "A service's log lines as they happen (seed 004)",
        "NDJSON, one log object a line, over one long (chunked) request; lines are stored while it is open "
        "and the answer counts what was received, stored and refused.",
        "\n".join(['{"level": "INFO", "message": "started"}', '{"level": "ERROR", "message": "failed"}']) + "\n",
        media_type="application/x-ndjson",
        body_schema={"type": "string"},
        answer=OBJECT,
    ),
    "logs-services-register": RouteDoc(
        "Register a service (seed 004, fleet token)",
        "A service becomes a server of kind `service`; 201 when created, 200 when it existed (unchanged).",
        examples.SEED004_REGISTER,
        success="201",
        answer={
            "type": "object",
            "properties": {
                "service_name": {"type": "string"},
                "id": {"type": "string", "format": "uuid"},
                "kind": {"type": "string"},
                "registered": {"type": "boolean"},
            },
        },
    ),
    "prometheus-remote-write": RouteDoc(
        "Prometheus remote_write",
        "A snappy-compressed protobuf WriteRequest, as Prometheus sends it (`remote_write` with a fleet token).",
        success="204",
        media_type="application/x-protobuf",
        body_schema=BINARY,
        answer=None,
    ),
    "otlp-metrics": RouteDoc(
        "OpenTelemetry metrics (OTLP/HTTP)",
        "ExportMetricsServiceRequest as protobuf (`application/x-protobuf`) or JSON; the host is `host.name`.",
        examples.OTLP_METRICS,
        answer=OBJECT,
        answered_in=OTLP_ENCODINGS,
        refusal=OTLP_STATUS,
    ),
    "otlp-logs": RouteDoc(
        "OpenTelemetry logs (OTLP/HTTP)",
        "ExportLogsServiceRequest as protobuf or JSON; the service is `service.name`.",
        examples.OTLP_LOGS,
        answer=OBJECT,
        answered_in=OTLP_ENCODINGS,
        refusal=OTLP_STATUS,
    ),
    "collectd-write-http": RouteDoc(
        "collectd write_http (Format JSON)",
        "Value lists as collectd's write_http plugin posts them.",
        examples.COLLECTD_VALUES,
        body_schema=LIST_OF_OBJECTS,
    ),
}

_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
PATH_NAMES = {"service_name_in_path": "service_name"}


def add_ingest_paths(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: the ingest routes, described from DOCS."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    components.setdefault("securitySchemes", {}).setdefault("agentToken", AGENT_TOKEN)
    paths = result.setdefault("paths", {})
    for route in ROUTES:
        if route.name is None or route.name not in DOCS:
            continue  # served by another app's API view (seed 003's events), described there
        doc = DOCS[route.name]
        path = "/" + _CONVERTER.sub(lambda found: "{" + PATH_NAMES.get(found[1], found[1]) + "}", route.pattern)
        paths[path] = {"post": _operation(route.name, path, doc)}
    return result


def _operation(name: str, path: str, doc: RouteDoc) -> dict:
    content: dict = {"schema": doc.body_schema}
    if doc.example is not None:
        content["example"] = doc.example
    answer: dict = {"description": "Stored (answered after the commit).", **_content(doc, doc.answer)}
    responses = {doc.success: answer}
    if doc.success == "201":
        responses["200"] = {"description": "Already there; nothing changed.", **_content(doc, doc.answer)}
    for code, why in REFUSALS.items():
        responses[code] = {"description": why, **_content(doc, doc.refusal)}
    operation = {
        "operationId": name.replace("-", "_"),
        "summary": doc.summary,
        "description": doc.description,
        "tags": ["ingest"],
        "security": [{"agentToken": []}],
        "requestBody": {"required": True, "content": {doc.media_type: content}},
        "responses": responses,
    }
    names = re.findall(r"{(\w+)}", path)
    if names:
        operation["parameters"] = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 255}} for n in names
        ]
    return operation


def _content(doc: RouteDoc, schema: dict | None) -> dict:
    """The answer's body in each encoding the route answers in (protobuf as bytes); nothing for no body."""
    if schema is None:
        return {}
    return {"content": {media: {"schema": schema if media.endswith("json") else BINARY} for media in doc.answered_in}}
