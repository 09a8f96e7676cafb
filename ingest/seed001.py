"""Seed 001 (Go backend) bulk ingest: ``POST /api/v1/ingest``.

Body: ``{"server_id": UUID, "metrics": [{"metric_type", "metric_name", "value",
"labels", "timestamp"}]}``. ``server_id`` may be left out by an agent token (its
server is known); a fleet token may name the server by ``hostname`` instead.
``labels`` defaults to {} and ``timestamp`` to the time of receipt.

This is the hot path of the benchmark: one loop of plain type checks per
metric, timestamps memoized per request, series keys as canonical label bytes.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from django.http import HttpRequest

from ingest.base import ingest_endpoint
from ingest.errors import BadInput
from ingest.wire import Clock, array, decode, kind_of, text
from monitoring.records import Batch, labels_key
from monitoring.storage import WriteResult
from servers.auth import Agent
from servers.registry import refuse_other_host, server_for

_EMPTY_LABELS = labels_key(None)


def adapt(request: HttpRequest, agent: Agent, body: bytes) -> Batch:
    data = decode(body)
    raw_server = data.get("server_id")
    if raw_server is not None and type(raw_server) is not str:
        raise BadInput("server_id", f"must be a string (the server's UUID), got {kind_of(raw_server)}")
    hostname = text(data.get("hostname"), "hostname", required=False) or None
    metrics = array(data.get("metrics"), "metrics", required=True)
    refuse_other_host(agent, hostname=hostname, server_id=raw_server)
    server_id = server_for(agent, server_id=raw_server, hostname=hostname, field="server_id")
    clock = Clock()
    batch = Batch()
    batch.samples, batch.timestamped = _samples(metrics, server_id, clock)
    if batch.samples:
        batch.seen[server_id] = max(map(itemgetter(1), batch.samples))
    else:
        batch.seen[server_id] = clock.now
    return batch


def _samples(metrics: list, server_id: str, clock: Clock) -> tuple[list, bool]:
    """The samples, and whether every metric carried its own timestamp."""
    samples: list[tuple] = []
    stamped = True
    append = samples.append
    now = clock.now
    last_labels: Any = None
    last_key: Any = None
    last_text: bool | None = None  # whether last_labels' values are all text; None: not checked yet
    last_raw_ts: Any = None
    last_ts: Any = None
    for i, metric in enumerate(metrics):
        if type(metric) is not dict:
            raise BadInput(f"metrics[{i}]", f"must be an object, got {kind_of(metric)}")
        metric_type = metric.get("metric_type")
        name = metric.get("metric_name")
        value: Any = metric.get("value")
        if type(metric_type) is not str or not metric_type or len(metric_type) > 128:
            raise BadInput(f"metrics[{i}].metric_type", _text_problem(metric_type, 128))
        if type(name) is not str or not name or len(name) > 255:
            raise BadInput(f"metrics[{i}].metric_name", _text_problem(name, 255))
        kind = type(value)
        if kind is float:
            if value - value != 0.0:
                raise BadInput(f"metrics[{i}].value", "must be a finite number")
        elif kind is int:
            try:
                value = float(value)
            except OverflowError:  # an integer beyond any float (JSON allows any length)
                raise BadInput(f"metrics[{i}].value", "must be a finite number")
        else:
            raise BadInput(f"metrics[{i}].value", _number_problem(value))
        labels = metric.get("labels")
        if not labels:
            if labels is not None and type(labels) is not dict:
                raise BadInput(f"metrics[{i}].labels", f"must be an object, got {kind_of(labels)}")
            key_labels = _EMPTY_LABELS
        elif type(labels) is dict:
            # agents send runs of metrics with the same labels: encode a label set once per run, when its
            # values are text (1 == 1.0 == true as Python values, not as label JSON), checked at its first repeat
            if labels != last_labels or not (
                last_text or (last_text is None and (last_text := all(type(v) is str for v in labels.values())))
            ):
                last_key = labels_key(labels)
                last_labels = labels
                last_text = None
            key_labels = last_key
        else:
            raise BadInput(f"metrics[{i}].labels", f"must be an object, got {kind_of(labels)}")
        raw_ts = metric.get("timestamp")
        if raw_ts is None:
            ts = now
            stamped = False
        elif type(raw_ts) is str and raw_ts == last_raw_ts:  # one stamp for a whole scrape, as a rule
            ts = last_ts
        else:
            ts = clock.at(raw_ts, f"metrics[{i}].timestamp")
            last_raw_ts = raw_ts
            last_ts = ts
        append(((server_id, metric_type, name, key_labels), ts, value))
    return samples, stamped


def _text_problem(value, limit: int) -> str:
    if value is None:
        return "required"
    if type(value) is not str:
        return f"must be a string, got {kind_of(value)}"
    if not value:
        return "must not be empty"
    return f"longer than {limit} characters"


def _number_problem(value) -> str:
    if value is None:
        return "required: a number"
    return f"must be a number, got {kind_of(value)}"


def _answer(batch: Batch, result: WriteResult) -> dict:
    return {"status": "accepted", "count": len(batch.samples), **result.as_dict()}


receive = ingest_endpoint(adapt, respond=_answer, status=202)
