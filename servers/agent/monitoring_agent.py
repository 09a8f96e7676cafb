#!/usr/bin/env python3
"""The monitoring console's bundled agent: one file, Python 3.8+, nothing to install.

Every ``--interval`` seconds it reads this host's figures from /proc and /sys
(or psutil, when it is importable) and posts two bodies to the console:

- the seed 000 snapshot to ``POST /ingest``: CPU, memory, disk, swap, network
  rates, TCP connections, load, uptime, docker events (when the docker socket is
  readable), local alerts and a health score;
- the seed 002 process table to ``POST /ingest/metrics``: total CPU and the top
  processes by CPU.

Bodies wait in a bounded in-memory outbox (``--buffer-seconds``, default 10
minutes) until the console acknowledges them, oldest first: a console restart
or a network blip leaves no gap. 429 and 503 are retried after their
Retry-After, other failures with jittered exponential backoff; every body
carries an Idempotency-Key, so a retry is never stored twice.

    python3 -S monitoring_agent.py --url http://console:8000 --token mca_... [--once] [--verbose]

Runs with ``python3 -S`` (standard library only).
"""

from __future__ import annotations

import argparse
import collections
import datetime
import email.utils
import http.client
import json
import logging
import os
import platform
import random
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

try:  # optional: more portable readings (and non-Linux hosts)
    import psutil
except ImportError:
    psutil = None

VERSION = "1.0.0"
SNAPSHOT_PATH = "/ingest"
PROCESSES_PATH = "/ingest/metrics"
DOCKER_SOCKET = "/var/run/docker.sock"
RETRYABLE = (429, 502, 503, 504)
MAX_BACKOFF = 60.0

log = logging.getLogger("monitoring_agent")


# --- Readings -------------------------------------------------------------------------------------


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


class ProcReader:
    """Counters and gauges straight from /proc and os (Linux, no dependencies)."""

    def __init__(self):
        self.ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.page_size = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def cpu_times(self) -> tuple:
        """(busy, total) jiffies of all CPUs since boot."""
        fields = [int(v) for v in _read("/proc/stat").splitlines()[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        total = sum(fields[:8])  # guest time is already counted in user
        return total - idle, total

    def memory(self) -> dict:
        info = {}
        for line in _read("/proc/meminfo").splitlines():
            name, _, rest = line.partition(":")
            info[name] = int(rest.split()[0]) * 1024
        total = info.get("MemTotal", 0)
        available = info.get("MemAvailable", info.get("MemFree", 0) + info.get("Cached", 0))
        return {
            "total": total,
            "used": total - available,
            "swap_total": info.get("SwapTotal", 0),
            "swap_used": info.get("SwapTotal", 0) - info.get("SwapFree", 0),
        }

    def network_bytes(self) -> tuple:
        """(received, sent) bytes over every interface but loopback."""
        rx = tx = 0
        for line in _read("/proc/net/dev").splitlines()[2:]:
            name, _, rest = line.partition(":")
            if name.strip() == "lo":
                continue
            values = rest.split()
            rx += int(values[0])
            tx += int(values[8])
        return rx, tx

    def tcp_connections(self) -> int:
        """Established TCP connections (IPv4 and IPv6)."""
        count = 0
        for path in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = _read(path).splitlines()[1:]
            except OSError:
                continue
            count += sum(1 for line in lines if line.split()[3] == "01")
        return count

    def uptime(self) -> float:
        return float(_read("/proc/uptime").split()[0])

    def processes(self) -> dict:
        """pid -> (name, cpu jiffies, resident bytes)."""
        found = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = _read(f"/proc/{entry}/stat")
                statm = _read(f"/proc/{entry}/statm")
            except OSError:  # the process ended while we looked
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            found[int(entry)] = (name, int(fields[11]) + int(fields[12]), int(statm.split()[1]) * self.page_size)
        return found


class PsutilReader(ProcReader):
    """The same readings through psutil (used when it is installed)."""

    def __init__(self):
        super().__init__()
        self.ticks = 100  # cpu times come in seconds; keep jiffy-like integers

    def cpu_times(self) -> tuple:
        times = psutil.cpu_times()
        total = sum(times)
        idle = times.idle + getattr(times, "iowait", 0)
        return (total - idle) * self.ticks, total * self.ticks

    def memory(self) -> dict:
        memory, swap = psutil.virtual_memory(), psutil.swap_memory()
        return {
            "total": memory.total,
            "used": memory.total - memory.available,
            "swap_total": swap.total,
            "swap_used": swap.used,
        }

    def network_bytes(self) -> tuple:
        counters = psutil.net_io_counters(pernic=True)
        rx = sum(c.bytes_recv for name, c in counters.items() if name != "lo")
        tx = sum(c.bytes_sent for name, c in counters.items() if name != "lo")
        return rx, tx

    def tcp_connections(self) -> int:
        try:
            return sum(1 for c in psutil.net_connections("tcp") if c.status == psutil.CONN_ESTABLISHED)
        except (psutil.AccessDenied, OSError):
            return super().tcp_connections()

    def uptime(self) -> float:
        return time.time() - psutil.boot_time()

    def processes(self) -> dict:
        found = {}
        for process in psutil.process_iter(["name", "cpu_times", "memory_info"]):
            info = process.info
            if info.get("cpu_times") is None or info.get("memory_info") is None:
                continue
            jiffies = int((info["cpu_times"].user + info["cpu_times"].system) * self.ticks)
            found[process.pid] = (info.get("name") or "?", jiffies, info["memory_info"].rss)
        return found


def disk_usage(path: str = "/") -> float:
    """Used percent of the filesystem at ``path``, as df shows it."""
    stat = os.statvfs(path)
    used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
    available = stat.f_bavail * stat.f_frsize
    return 100.0 * used / (used + available) if used + available else 0.0


class DockerEvents:
    """Container events since the last read, from the docker socket's /events (when readable)."""

    def __init__(self, path: str = DOCKER_SOCKET):
        self.path = path
        self.since = int(time.time())

    def available(self) -> bool:
        return os.path.exists(self.path) and os.access(self.path, os.R_OK | os.W_OK)

    def read(self) -> list:
        if not self.available():
            return []
        until = int(time.time())
        query = urllib.parse.urlencode({"since": self.since, "until": until, "filters": '{"type":["container"]}'})
        conn = _UnixHTTPConnection(self.path)
        try:
            conn.request("GET", f"/events?{query}")
            response = conn.getresponse()
            if response.status != 200:
                return []
            lines = response.read().decode(errors="replace").splitlines()
        except OSError as exc:
            log.debug("docker events unavailable: %s", exc)
            return []
        finally:
            conn.close()
        self.since = until
        events = []
        for line in lines[-100:]:
            try:
                raw = json.loads(line)
            except ValueError:
                continue
            attributes = (raw.get("Actor") or {}).get("Attributes") or {}
            events.append(
                {
                    "type": raw.get("Type") or "container",
                    "action": raw.get("Action") or raw.get("status") or "",
                    "container": attributes.get("name") or (raw.get("id") or "")[:12],
                    "image": attributes.get("image") or raw.get("from") or "",
                    "timestamp": _iso(raw.get("timeNano", 0) / 1e9 or raw.get("time") or time.time()),
                }
            )
        return events


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=5)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(self.unix_path)


def _iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat().replace("+00:00", "Z")


# --- Building the two bodies ----------------------------------------------------------------------


class Sampler:
    """Turns counters into rates between two readings and builds the seed 000 and 002 bodies."""

    def __init__(self, reader: ProcReader, options):
        self.reader = reader
        self.options = options
        self.docker = DockerEvents()
        self.cpu_count = os.cpu_count() or 1
        self._previous: dict | None = None

    def prime(self) -> None:
        """Take the first counters, so the first bodies carry real rates."""
        self._previous = self._counters()

    def _counters(self) -> dict:
        return {
            "at": time.monotonic(),
            "cpu": self.reader.cpu_times(),
            "net": self.reader.network_bytes(),
            "procs": self.reader.processes(),
        }

    def collect(self) -> tuple:
        """(seed 000 snapshot, seed 002 process table) for now."""
        now = self._counters()
        before = self._previous or now
        self._previous = now
        elapsed = max(now["at"] - before["at"], 1e-3)
        busy = now["cpu"][0] - before["cpu"][0]
        total = now["cpu"][1] - before["cpu"][1]
        cpu = round(100.0 * busy / total, 2) if total > 0 else 0.0
        processes = self._processes(before["procs"], now["procs"], elapsed)
        snapshot = self._snapshot(cpu, before, now, elapsed, len(now["procs"]))
        table = {
            "timestamp": round(time.time(), 3),
            "hostname": self.options.hostname,
            "total_cpu_percent": cpu,
            "top_processes": processes,
        }
        return snapshot, table

    def _snapshot(self, cpu: float, before: dict, now: dict, elapsed: float, process_count: int) -> dict:
        memory = self.reader.memory()
        load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
        metrics = {
            "cpu_usage": cpu,
            "memory_usage": round(100.0 * memory["used"] / memory["total"], 2) if memory["total"] else 0.0,
            "disk_usage": round(disk_usage(self.options.disk_path), 2),
            "swap_usage": round(100.0 * memory["swap_used"] / memory["swap_total"], 2) if memory["swap_total"] else 0.0,
            "network_rx_bytes_per_sec": round(max(0, now["net"][0] - before["net"][0]) / elapsed, 1),
            "network_tx_bytes_per_sec": round(max(0, now["net"][1] - before["net"][1]) / elapsed, 1),
            "tcp_connections": self.reader.tcp_connections(),
            "load_1m": round(load[0], 2),
            "load_5m": round(load[1], 2),
            "load_15m": round(load[2], 2),
            "uptime_seconds": round(self.reader.uptime()),
            "process_count": process_count,
        }
        alerts = local_alerts(metrics, self.cpu_count)
        body = {
            "host": self.options.hostname,
            "timestamp": _iso(time.time()),
            "metrics": metrics,
            "docker_events": self.docker.read(),
            "logs": [],
            "local_alerts": alerts,
            "score": health_score(metrics, alerts),
            "agent_version": VERSION,
            "os": f"{platform.system()} {platform.release()}",
            "cpu_count": self.cpu_count,
            "memory_total_bytes": memory["total"],
        }
        for key, value in (("env", self.options.env), ("owner_team", self.options.team)):
            if value:
                body[key] = value
        return body

    def _processes(self, before: dict, now: dict, elapsed: float) -> list:
        rows = []
        for pid, (name, jiffies, rss) in now.items():
            previous = before.get(pid)
            spent = jiffies - previous[1] if previous and previous[0] == name else 0
            cpu = 100.0 * max(0, spent) / self.reader.ticks / elapsed
            rows.append({"pid": pid, "name": name, "cpu_percent": round(cpu, 2), "memory_mb": round(rss / 2**20, 1)})
        rows.sort(key=lambda row: (-row["cpu_percent"], -row["memory_mb"]))
        return rows[: self.options.processes]


def local_alerts(metrics: dict, cpu_count: int) -> list:
    """The agent's own warnings, named as the Go agent names them."""
    alerts = []
    if metrics["cpu_usage"] >= 90:
        alerts.append("CPU_SPIKE")
    if metrics["memory_usage"] >= 90:
        alerts.append("HIGH_MEMORY")
    if metrics["disk_usage"] >= 90:
        alerts.append("DISK_FULL")
    if metrics["swap_usage"] >= 80:
        alerts.append("HIGH_SWAP")
    if metrics["load_1m"] >= 2 * cpu_count:
        alerts.append("HIGH_LOAD")
    return alerts


def health_score(metrics: dict, alerts: list) -> float:
    """1 is idle and healthy, 0 is saturated: weighted headroom, less 0.1 per local alert."""
    pressure = 0.4 * metrics["cpu_usage"] + 0.3 * metrics["memory_usage"] + 0.3 * metrics["disk_usage"]
    return round(max(0.0, min(1.0, 1 - pressure / 100 - 0.1 * len(alerts))), 3)


# --- Delivering them ------------------------------------------------------------------------------


class Outbox:
    """Bodies not yet acknowledged, oldest first; older than ``max_age`` seconds they are dropped."""

    def __init__(self, max_age: float, max_items: int):
        self.max_age = max_age
        self.items: collections.deque = collections.deque(maxlen=max_items)
        self.dropped = 0

    def put(self, path: str, body: dict) -> None:
        if len(self.items) == self.items.maxlen:
            self.dropped += 1
        self.items.append((time.monotonic(), path, json.dumps(body).encode(), str(uuid.uuid4())))

    def expire(self) -> None:
        while self.items and time.monotonic() - self.items[0][0] > self.max_age:
            self.items.popleft()
            self.dropped += 1

    def __len__(self) -> int:
        return len(self.items)


class Delivery(Exception):
    """A body was not acknowledged; ``retry_after`` is the console's wish, when it said one."""

    def __init__(self, message: str, retry_after=None, permanent: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Console:
    def __init__(self, url: str, token: str, timeout: float = 10):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def post(self, path: str, body: bytes, key: str) -> int:
        request = urllib.request.Request(self.url + path, data=body, method="POST")  # noqa: S310 (http(s) only)
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Idempotency-Key", key)
        request.add_header("User-Agent", f"monitoring-agent/{VERSION}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                response.read()
                return response.status
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            if exc.code in RETRYABLE:
                raise Delivery(f"{exc.code} {detail}", retry_after=retry_after(exc.headers.get("Retry-After")))
            raise Delivery(f"{exc.code} {detail}", permanent=True)
        except (OSError, http.client.HTTPException) as exc:
            raise Delivery(f"unreachable: {exc}")


def retry_after(value) -> float | None:
    """Retry-After in seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Backoff:
    """Full-jitter exponential backoff; a Retry-After is honoured, with up to 10% added jitter."""

    def __init__(self, base: float = 1.0, cap: float = MAX_BACKOFF):
        self.base = base
        self.cap = cap
        self.failures = 0

    def delay(self, wished=None) -> float:
        self.failures += 1
        if wished is not None:
            return wished * (1 + random.random() * 0.1)
        ceiling = min(self.cap, self.base * 2 ** (self.failures - 1))
        return ceiling / 2 + random.random() * ceiling / 2

    def reset(self) -> None:
        self.failures = 0


class Agent:
    def __init__(self, options, reader: ProcReader | None = None):
        self.options = options
        self.sampler = Sampler(reader or (PsutilReader() if psutil else ProcReader()), options)
        self.console = Console(options.url, options.token)
        per_cycle = 2
        self.outbox = Outbox(options.buffer_seconds, max(per_cycle, int(options.buffer_seconds / options.interval) * 2))
        self.backoff = Backoff()
        self.next_send = 0.0
        self.sent = 0

    def collect(self) -> None:
        snapshot, table = self.sampler.collect()
        self.outbox.put(SNAPSHOT_PATH, snapshot)
        self.outbox.put(PROCESSES_PATH, table)
        m = snapshot["metrics"]
        log.debug("collected cpu %.1f%% memory %.1f%% disk %.1f%%", m["cpu_usage"], m["memory_usage"], m["disk_usage"])

    def flush(self) -> bool:
        """Send what waits, oldest first; False when the console asked us to wait (or was unreachable)."""
        self.outbox.expire()
        while self.outbox.items:
            _, path, body, key = self.outbox.items[0]
            try:
                status = self.console.post(path, body, key)
            except Delivery as exc:
                if exc.permanent:
                    log.error("%s refused, dropped: %s", path, exc)
                    self.outbox.items.popleft()
                    continue
                wait = self.backoff.delay(exc.retry_after)
                self.next_send = time.monotonic() + wait
                log.warning("%s not delivered (%s); %d waiting, retry in %.1f s", path, exc, len(self.outbox), wait)
                return False
            self.outbox.items.popleft()
            self.backoff.reset()
            self.sent += 1
            log.info("%s %d (%d waiting)", path, status, len(self.outbox))
        return True

    def run(self) -> int:
        self.sampler.prime()
        time.sleep(min(1.0, self.options.interval))
        if self.options.once:
            self.collect()
            return 0 if self.flush() else 1
        next_collect = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= next_collect:
                self.collect()
                next_collect += self.options.interval
                if next_collect < now:  # we were suspended: skip the missed ticks
                    next_collect = now + self.options.interval
            if self.outbox.items and time.monotonic() >= self.next_send:
                self.flush()
            wake = next_collect if not self.outbox.items else min(next_collect, self.next_send)
            time.sleep(max(0.05, wake - time.monotonic()))


# --- Command line ---------------------------------------------------------------------------------


def parse_options(argv=None):
    parser = argparse.ArgumentParser(description="Report this host to the monitoring console.")
    parser.add_argument("--url", default=os.environ.get("MONITORING_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("MONITORING_TOKEN", ""), help="agent or fleet token")
    parser.add_argument("--token-file", default=os.environ.get("MONITORING_TOKEN_FILE", ""))
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between reports (default 10)")
    parser.add_argument("--hostname", default="", help="the name the token was issued for (default: this host's)")
    parser.add_argument("--once", action="store_true", help="report once and exit (status 1 if not delivered)")
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.add_argument("--buffer-seconds", type=float, default=600.0, help="keep unsent reports this long")
    parser.add_argument("--processes", type=int, default=30, help="processes in each table (top by CPU)")
    parser.add_argument("--disk-path", default="/", help="the filesystem disk_usage reports")
    parser.add_argument("--env", default="", help="environment, e.g. production")
    parser.add_argument("--team", default="", help="owning team")
    parser.add_argument("--version", action="version", version=VERSION)
    options = parser.parse_args(argv)
    if options.token_file:
        options.token = _read(options.token_file).strip()
    if not options.token:
        parser.error("a token is required: --token mca_... or --token-file PATH")
    if urllib.parse.urlsplit(options.url).scheme not in ("http", "https"):
        parser.error("--url must be http:// or https://")
    if options.interval <= 0:
        parser.error("--interval must be positive")
    options.hostname = options.hostname or socket.gethostname()
    return options


def main(argv=None) -> int:
    options = parse_options(argv)
    logging.basicConfig(
        level=logging.DEBUG if options.verbose else logging.WARNING,
        format="%(asctime)s agent %(levelname)s %(message)s",
        stream=sys.stdout,
    )
    log.warning(
        "reporting %s to %s every %gs (%s)",
        options.hostname,
        options.url,
        options.interval,
        "psutil" if psutil else "/proc",
    )
    try:
        return Agent(options).run()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
