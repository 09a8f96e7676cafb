"""Live fan-out latency: 100 WebSocket clients watch a server while an agent posts to it.

Runs against a running console (``make run``). For each ingest request it
measures, per connected client, the time from the request's 2xx answer to the
client receiving the frame that carries it; prints p50/p90/p99/max over all
deliveries and how many were missed. Target: p99 under 250 ms.

    .venv/bin/python bench/live.py [--url http://127.0.0.1:8000] [--clients 100] [--seconds 20] [--rate 10]

Tokens: --token (a person's API token, to watch) and --agent-token (to post);
when left out they are issued with ``manage.py issue_token`` (which works beside
a running console).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import struct
import time
from urllib.parse import urlparse

import orjson
import requests
from harness import issue_token


class Socket:
    """Just enough of RFC 6455 for a benchmark client: handshake, text frames, ping/pong."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, host: str, port: int, path: str) -> Socket:
        reader, writer = await asyncio.open_connection(host, port, limit=2**22)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
        return cls(reader, writer)

    def send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(header + mask + masked)

    async def receive(self) -> bytes:
        """The next text or binary message (answering pings on the way)."""
        parts: list[bytes] = []
        while True:
            first, second = await self.reader.readexactly(2)
            opcode, n = first & 0x0F, second & 0x7F
            if n == 126:
                n = struct.unpack(">H", await self.reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", await self.reader.readexactly(8))[0]
            payload = await self.reader.readexactly(n)
            if opcode == 0x9:
                self.send(0xA, payload)
                continue
            if opcode == 0x8:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                raise ConnectionError(f"closed by the server ({code})")
            if opcode in (0x0, 0x1, 0x2):
                parts.append(payload)
                if first & 0x80:
                    return b"".join(parts)


async def client(host, port, path, arrivals: dict, ready: asyncio.Event, counter: list, total: int):
    socket = await Socket.connect(host, port, path)
    await socket.receive()  # the "connected" greeting
    counter[0] += 1
    if counter[0] == total:
        ready.set()
    while True:
        frame = orjson.loads(await socket.receive())
        if frame.get("type") != "metrics":
            continue
        now = time.perf_counter()
        for series in frame["series"]:
            if series["metric_name"] == "bench_seq":
                for _, value in series["points"]:
                    arrivals.setdefault(int(value), []).append(now)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=10, help="ingest requests per second")
    parser.add_argument("--samples", type=int, default=50, help="samples per request (plus the sequence marker)")
    parser.add_argument("--hostname", default="bench-live-01")
    parser.add_argument("--token", default=os.environ.get("BENCH_TOKEN"), help="a person's API token")
    parser.add_argument("--agent-token", default=os.environ.get("BENCH_AGENT_TOKEN"))
    parser.add_argument("--user", default=os.environ.get("ADMIN_USER", "admin"), help="who the issued token is for")
    args = parser.parse_args()

    url = urlparse(args.url)
    host, port = url.hostname, url.port or 80
    agent_token = args.agent_token or issue_token(args.hostname)
    token = args.token or issue_token("--user", args.user)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {agent_token}"

    # the first post registers nothing new but tells us the server's id
    first = session.post(
        f"{args.url}/api/v1/ingest", json={"metrics": [{"metric_type": "bench", "metric_name": "warmup", "value": 0}]}
    )
    first.raise_for_status()
    listing = requests.get(
        f"{args.url}/api/v1/servers",
        params={"q": args.hostname, "limit": 1000},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    rows = listing.get("results", listing) if isinstance(listing, dict) else listing
    server_id = next(r["id"] for r in rows if r["hostname"] == args.hostname)

    arrivals: dict[int, list[float]] = {}
    ready = asyncio.Event()
    counter = [0]
    path = f"/api/v1/stream?server_id={server_id}&token={token}"
    tasks = [
        asyncio.create_task(client(host, port, path, arrivals, ready, counter, args.clients))
        for _ in range(args.clients)
    ]
    await asyncio.wait_for(ready.wait(), 60)
    print(f"{args.clients} clients connected to /api/v1/stream?server_id={server_id}")

    answered: dict[int, float] = {}
    failed = 0
    interval = 1 / args.rate
    started = time.perf_counter()
    seq = 0
    filler = [
        {"metric_type": "bench", "metric_name": "load", "value": float(i), "labels": {"slot": str(i)}}
        for i in range(args.samples)
    ]
    while time.perf_counter() - started < args.seconds:
        seq += 1
        body = {"metrics": [*filler, {"metric_type": "bench", "metric_name": "bench_seq", "value": seq}]}
        response = await asyncio.to_thread(session.post, f"{args.url}/api/v1/ingest", json=body, timeout=10)
        if 200 <= response.status_code < 300:
            answered[seq] = time.perf_counter()
        else:
            failed += 1
        await asyncio.sleep(max(0, started + seq * interval - time.perf_counter()))
    await asyncio.sleep(2)  # stragglers
    for task in tasks:
        task.cancel()

    latencies, early, missed = [], 0, 0
    for seq, at in answered.items():
        got = arrivals.get(seq, [])
        missed += args.clients - len(got)
        for t in got:
            if t < at:
                early += 1  # the frame beat the HTTP answer to this process
            latencies.append(max(0.0, t - at) * 1000)
    print(f"requests: {len(answered)} answered 2xx, {failed} failed; samples per request: {args.samples + 1}")
    print(
        f"deliveries: {len(latencies)} of {len(answered) * args.clients} expected, {missed} missed, {early} before the 2xx"
    )
    if latencies:
        print(
            "2xx -> client latency (ms): "
            f"p50 {percentile(latencies, 0.5):.1f}  p90 {percentile(latencies, 0.9):.1f}  "
            f"p99 {percentile(latencies, 0.99):.1f}  max {max(latencies):.1f}  mean {statistics.fmean(latencies):.1f}"
        )
        verdict = "meets" if percentile(latencies, 0.99) < 250 else "misses"
        print(f"target p99 < 250 ms: {verdict}")


if __name__ == "__main__":
    asyncio.run(main())
