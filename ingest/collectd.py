"""collectd's write_http plugin with ``Format "JSON"``: ``POST /api/v1/collectd``.

The body is an array of value lists::

    [{"values": [1901474177], "dstypes": ["counter"], "dsnames": ["value"],
      "time": 1280959128.123, "interval": 10, "host": "leeloo",
      "plugin": "cpu", "plugin_instance": "0", "type": "cpu", "type_instance": "idle"}]

Each value becomes a sample of metric_type ``collectd``, named ``plugin.type``
(``plugin.type.dsname`` when the data source is not called ``value``), with
``plugin_instance`` and ``type_instance`` as labels when set. ``host`` names the
server (registered on first sight under a fleet token). A ``null`` value is a
gauge collectd had no reading for (NaN): skipped, not an error. Counters and
derives are stored as sent; set ``StoreRates true`` to receive rates instead.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import orjson
from django.conf import settings
from django.http import HttpRequest

from ingest.base import ingest_endpoint
from ingest.errors import BadInput, Refused
from monitoring import partitions
from monitoring.records import Batch, labels_key
from monitoring.storage import WriteResult
from monitoring.timestamps import EPOCH
from servers.auth import Agent
from servers.registry import server_for

METRIC_TYPE = "collectd"
DSTYPES = frozenset({"gauge", "counter", "derive", "absolute"})


def adapt(request: HttpRequest, agent: Agent, body: bytes) -> Batch:
    content_type = (request.headers.get("Content-Type") or "application/json").partition(";")[0].strip().lower()
    if content_type != "application/json":
        raise Refused(415, f'Content-Type {content_type!r} not supported: set Format "JSON" in write_http')
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadInput("", f"malformed JSON ({exc})")
    if type(data) is not list:
        raise BadInput("", "expected an array of value lists")
    reader = ValueListReader(agent)
    batch = Batch()
    for i, value_list in enumerate(data):
        reader.read(value_list, f"[{i}]", batch)
    batch.timestamped = not reader.defaulted
    batch.skipped = reader.skipped
    return batch


def _text(value_list: dict, key: str, path: str, *, required: bool) -> str:
    value = value_list.get(key)
    if value is None or value == "":
        if required:
            raise BadInput(f"{path}.{key}", "required")
        return ""
    if type(value) is not str:
        raise BadInput(f"{path}.{key}", "must be a string")
    if len(value) > 120:
        raise BadInput(f"{path}.{key}", "longer than 120 characters")
    return value


def _list(value_list: dict, key: str, path: str) -> list:
    value = value_list.get(key)
    if type(value) is not list:
        raise BadInput(f"{path}.{key}", "required: an array")
    return value


class ValueListReader:
    """Reads value lists of one request, resolving each host once."""

    def __init__(self, agent: Agent):
        self.agent = agent
        self.now = datetime.now(UTC)
        self.latest = self.now.timestamp() + settings.INGEST_MAX_FUTURE_SECONDS
        self.earliest = partitions.oldest_writable(self.now).timestamp()
        self.skipped = 0
        self.servers: dict[str, str] = {}
        self.defaulted = False

    def read(self, value_list, path: str, batch: Batch) -> None:
        if type(value_list) is not dict:
            raise BadInput(path, "must be an object (a value list)")
        values = _list(value_list, "values", path)
        dstypes = _list(value_list, "dstypes", path)
        dsnames = _list(value_list, "dsnames", path)
        if not (len(values) == len(dstypes) == len(dsnames)):
            raise BadInput(f"{path}.values", "values, dstypes and dsnames must have the same length")
        host = _text(value_list, "host", path, required=self.agent.server_id is None)
        plugin = _text(value_list, "plugin", path, required=True)
        kind = _text(value_list, "type", path, required=True)
        labels = {}
        plugin_instance = _text(value_list, "plugin_instance", path, required=False)
        type_instance = _text(value_list, "type_instance", path, required=False)
        if plugin_instance:
            labels["plugin_instance"] = plugin_instance
        if type_instance:
            labels["type_instance"] = type_instance
        key_labels = labels_key(labels)
        ts = self.time(value_list.get("time"), f"{path}.time")
        if ts is None:  # older than the raw retention window: skipped and counted, as a NaN reading
            self.skipped += len(values)
            return
        server_id = self.server(host, f"{path}.host")
        added = False
        for j, value in enumerate(values):
            dstype = dstypes[j]
            if type(dstype) is not str or dstype.lower() not in DSTYPES:
                raise BadInput(f"{path}.dstypes[{j}]", f"must be one of {', '.join(sorted(DSTYPES))}")
            dsname = dsnames[j]
            if type(dsname) is not str or not dsname or len(dsname) > 64:
                raise BadInput(f"{path}.dsnames[{j}]", "must be a name of 1 to 64 characters")
            if value is None:
                continue  # a gauge without a reading
            if type(value) not in (int, float):
                raise BadInput(f"{path}.values[{j}]", "must be a number or null")
            try:
                value = float(value)
            except OverflowError:
                value = math.inf
            if value - value != 0.0:
                raise BadInput(f"{path}.values[{j}]", "must be a finite number")
            name = f"{plugin}.{kind}" if dsname == "value" else f"{plugin}.{kind}.{dsname}"
            batch.samples.append(((server_id, METRIC_TYPE, name, key_labels), ts, value))
            added = True
        if added and (server_id not in batch.seen or batch.seen[server_id] < ts):
            batch.seen[server_id] = ts

    def time(self, value, path: str) -> datetime | None:
        """The value list's time; None when older than the raw retention window."""
        if value is None:
            self.defaulted = True  # a body's digest cannot name a retry of values without times
            return self.now
        if type(value) not in (int, float) or not (0 < value <= self.latest):
            raise BadInput(path, "must be epoch seconds, not in the future")
        if value < self.earliest:
            return None
        return EPOCH + timedelta(seconds=value)

    def server(self, host: str, path: str) -> str:
        found = self.servers.get(host)
        if found is None:
            found = self.servers[host] = server_for(self.agent, hostname=host or None, field=path)
        return found


def respond(batch: Batch, result: WriteResult) -> dict:
    return {"status": "accepted", **result.as_dict(), "skipped": batch.skipped}


receive = ingest_endpoint(
    adapt,
    respond=respond,
    status=200,
    rate_limit_setting="RECEIVER_RATE_LIMIT_PER_MINUTE",
    throttle_status=503,
    live_setting="RECEIVER_LIVE",
)
