"""Prometheus remote_write 1.0: ``POST /api/v1/prom/write``.

The body is a snappy-compressed (block format) protobuf ``prometheus.WriteRequest``
(ingest/proto/remote.proto). Each time series becomes one of our series:
``__name__`` is its name, metric_type ``prometheus``, the other labels its labels.
The server is named by the label in ``PROM_SERVER_LABEL`` (default ``instance``),
else ``instance``, else ``job``, with a trailing ``:port`` dropped, and is
registered on first sight under a fleet token; an agent token writes everything
for its own server. Series of a server that may not be written (disabled) are
skipped while the rest of the request is stored.

Values that are not finite are not stored: staleness markers (a NaN with a special
bit pattern) and plain NaN both mean "no value here", and PostgreSQL orders NaN
above every number, so a stored NaN would make every ``> threshold`` rule fire and
every roll-up's max and avg NaN. Samples more than INGEST_MAX_FUTURE_SECONDS ahead
are dropped too: a 400 would make Prometheus drop the whole request. Metadata is
accepted and not stored. The answer is 204, like Prometheus' own receiver.

This is the receivers' hot path (hundreds of series of one sample a request):
server ids are resolved once per distinct host a request, timestamps memoized,
and nothing touches the database before the one write.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import cramjam
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from google.protobuf.message import DecodeError

from ingest.base import ingest_endpoint
from ingest.errors import BadInput, Refused
from ingest.proto.remote_pb2 import WriteRequest
from monitoring import partitions
from monitoring.records import Batch, labels_key
from monitoring.storage import WriteResult
from monitoring.timestamps import EPOCH
from servers.auth import Agent, IngestAuthError
from servers.registry import server_for

log = logging.getLogger(__name__)

METRIC_TYPE = "prometheus"
MEDIA_TYPE = "application/x-protobuf"
MESSAGE = "prometheus.WriteRequest"


def adapt(request: HttpRequest, agent: Agent, body: bytes) -> Batch:
    check_media(request)
    write = decode(body)
    return WriteRequestReader(agent).read(write)


def check_media(request: HttpRequest) -> None:
    """415 for what a remote_write 1.0 receiver does not read (e.g. remote_write 2.0 messages)."""
    encoding = request.headers.get("Content-Encoding", "snappy").strip().lower()
    if encoding != "snappy":
        raise Refused(415, f"Content-Encoding {encoding!r} not supported: remote_write bodies are snappy")
    content_type = request.headers.get("Content-Type")
    if not content_type:
        return
    media, _, params = content_type.partition(";")
    if media.strip().lower() != MEDIA_TYPE:
        raise Refused(415, f"Content-Type {media.strip()!r} not supported: send {MEDIA_TYPE}")
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "proto" and value.strip().strip('"') != MESSAGE:
            raise Refused(415, f"only remote_write 1.0 ({MESSAGE}) is read, not {value.strip()}")


def decode(body: bytes) -> WriteRequest:
    """The WriteRequest a snappy body holds; 413 past the decompressed limit, 400 for anything unreadable."""
    limit = settings.RECEIVER_MAX_DECOMPRESSED_BYTES
    try:
        size = cramjam.snappy.decompress_raw_len(body)
    except cramjam.DecompressionError as exc:
        raise BadInput("", f"body is not snappy-compressed (block format): {exc}")
    if size > limit:
        raise Refused(413, f"body expands to {size} bytes, over {limit}")
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as exc:
        raise BadInput("", f"body is not snappy-compressed (block format): {exc}")
    write = WriteRequest()
    try:
        write.ParseFromString(raw)
    except DecodeError as exc:
        raise BadInput("", f"not a protobuf {MESSAGE}: {exc}")
    return write


def host_of(value: str) -> str:
    """The host of an ``instance`` label: ``web-01:9100`` -> ``web-01``, ``[::1]:9100`` -> ``::1``."""
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    host, sep, port = value.rpartition(":")
    if sep and host and ":" not in host and port.isdigit():
        return host
    return value


class SeriesNames:
    """label pairs -> (name, canonical label bytes, labels), shared by the requests of a process.

    Prometheus sends the same series every scrape; remembering how a label set
    reads saves a dict and a JSON encoding per series on the hot path.
    """

    LIMIT = 200_000

    def __init__(self):
        self._known: dict[tuple, tuple[str | None, bytes, dict]] = {}

    def get(self, pairs: tuple) -> tuple[str | None, bytes, dict]:
        found = self._known.get(pairs)
        if found is None:
            labels = dict(pairs)
            name = labels.pop("__name__", None)
            found = (name, labels_key(labels), labels)
            if len(self._known) >= self.LIMIT:
                self._known.clear()
            self._known[pairs] = found
        return found


series_names = SeriesNames()


class WriteRequestReader:
    """Turns one WriteRequest into a Batch for one agent."""

    def __init__(self, agent: Agent):
        self.agent = agent
        self.server_label = settings.PROM_SERVER_LABEL
        self.now = datetime.now(UTC)
        self.latest_ms = int((self.now.timestamp() + settings.INGEST_MAX_FUTURE_SECONDS) * 1000)
        self.earliest_ms = max(1, int(partitions.oldest_writable(self.now).timestamp() * 1000))
        self.servers: dict[str, str | None] = {}
        self.stamps: dict[int, datetime] = {}
        self.skipped = 0

    def read(self, write: WriteRequest) -> Batch:
        batch = Batch(timestamped=True)  # every remote_write sample carries its time
        append = batch.samples.append
        seen = batch.seen
        stamps = self.stamps
        latest_ms = self.latest_ms
        earliest_ms = self.earliest_ms
        names = series_names.get
        for i, series in enumerate(write.timeseries):
            name, key_labels, labels = names(tuple([(label.name, label.value) for label in series.labels]))
            if not name:
                raise BadInput(f"timeseries[{i}].labels", "no __name__ label")
            if len(name) > 255:
                self.skipped += len(series.samples)
                continue
            server_id = self.server(labels, i)
            if server_id is None:
                self.skipped += len(series.samples)
                continue
            key = (server_id, METRIC_TYPE, name, key_labels)
            last = None
            for sample in series.samples:
                value = sample.value
                ms = sample.timestamp
                if value - value != 0.0 or ms < earliest_ms or ms > latest_ms:
                    # NaN (staleness markers too), infinities, times out of bounds (before the raw
                    # retention window or too far ahead): skipped and counted, the rest stored
                    self.skipped += 1
                    continue
                ts = stamps.get(ms)
                if ts is None:
                    ts = stamps[ms] = EPOCH + timedelta(milliseconds=ms)
                append((key, ts, value))
                last = ts
            if last is not None and (server_id not in seen or seen[server_id] < last):
                seen[server_id] = last
        batch.skipped = self.skipped
        if self.skipped:
            log.debug("remote_write: %d samples not stored (not finite, out of time bounds or unnamed)", self.skipped)
        return batch

    def server(self, labels: dict, index: int) -> str | None:
        """The server a series is for: the agent's own, or the one its labels name (None: no such label)."""
        if self.agent.server_id is not None:
            return str(self.agent.server_id)
        label = self.server_label
        value = labels.get(label)
        if not value:
            label = "instance"
            value = labels.get(label)
        if not value:
            label = "job"
            value = labels.get(label)
        if not value:
            return None
        if value in self.servers:
            return self.servers[value]
        hostname = host_of(value)
        if len(hostname) > 255:
            raise BadInput(f"timeseries[{index}].labels.{label}", "a server's name is at most 255 characters")
        try:
            found = server_for(self.agent, hostname=hostname, field=f"timeseries[{index}].labels.{label}")
        except IngestAuthError as exc:
            # e.g. a disabled server: its series are skipped, the other servers' still stored
            # (a 403 would make Prometheus drop the whole request)
            log.info("remote_write: series of %s not stored: %s", hostname, exc.detail)
            found = None
        self.servers[value] = found
        return found


def respond(batch: Batch, result: WriteResult) -> HttpResponse:
    return HttpResponse(status=204)


receive = ingest_endpoint(
    adapt,
    respond=respond,
    rate_limit_setting="RECEIVER_RATE_LIMIT_PER_MINUTE",
    throttle_status=503,
    live_setting="RECEIVER_LIVE",
)
