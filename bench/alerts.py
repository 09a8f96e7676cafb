"""Alert evaluation benchmark: 200 servers, 500 rules; round time and sample-to-webhook latency.

    .venv/bin/python bench/alerts.py [--servers 200] [--rules 500] [--rounds 5] [--no-latency]

Self-contained: runs on its own embedded PostgreSQL and Redis under .data/bench
(or DATABASE_URL / REDIS_URL when set), migrates, loads 15 minutes of samples,
5 minutes of logs and some events for the fleet, and creates a mix of rules
(threshold, absence, anomaly, log error rate, log pattern, event status).

1. Round time: ``alerts.evaluation.evaluate_rules()`` in this process, the
   first round (which opens the alerts) and then steady rounds. Target < 2 s.
2. Latency: starts a real Celery worker and beat (subprocesses, evaluation every
   ALERT_EVAL_INTERVAL_SECONDS) and a webhook receiver on 127.0.0.1, then an
   "agent" writes a violating sample every second; prints the time from the
   first violating sample to the webhook request arriving, against the bound
   ``for + interval + 5 s``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATA_DIR", ".data/bench")
os.environ.setdefault("EMBEDDED_POSTGRES_FAST", "true")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

import orjson  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from alerts.evaluation import evaluate_rules  # noqa: E402
from alerts.models import Alert, AlertRule, NotificationChannel  # noqa: E402
from monitoring.records import Batch, EventRecord, LogRecord  # noqa: E402
from monitoring.storage import write  # noqa: E402
from servers.models import Server  # noqa: E402

PREFIX = "bench-alerts-"
HOT_EVERY = 20  # one server in HOT_EVERY runs hot (--hot-every; 0: none)
METRICS = [("system", "cpu_usage"), ("system", "memory_usage"), ("system", "disk_usage"), ("system", "load1")]


def clean() -> None:
    series = list(
        Server.objects.filter(hostname__startswith=PREFIX).values_list("series__id", flat=True).exclude(series__id=None)
    )
    with connection.cursor() as cursor:
        if series:
            cursor.execute("DELETE FROM monitoring_sample WHERE series_id = ANY(%s)", [series])
        cursor.execute("DELETE FROM monitoring_logentry WHERE service LIKE 'bench-%%'")
        cursor.execute("DELETE FROM monitoring_event WHERE source LIKE 'bench-%%'")
    AlertRule.objects.filter(name__startswith=PREFIX).delete()
    NotificationChannel.objects.filter(name__startswith=PREFIX).delete()
    Server.objects.filter(hostname__startswith=PREFIX).delete()


def load_fleet(count: int, now: datetime) -> list[Server]:
    servers = Server.objects.bulk_create(
        [
            Server(hostname=f"{PREFIX}{i:03d}", labels={"role": ["web", "db", "cache", "worker"][i % 4]}, last_seen=now)
            for i in range(count)
        ]
    )
    feed(servers, now, steps=90)  # 15 minutes of history, every 10 s
    quiet = [s.pk for i, s in enumerate(servers) if i % 50 == 1]
    Server.objects.filter(pk__in=quiet).update(last_seen=now - timedelta(minutes=5))
    return servers


def feed(servers: list[Server], now: datetime, steps: int = 1) -> None:
    """What the fleet sends: 4 metrics every 10 s, 2 log lines per 10 s; one server in twenty runs hot
    (CPU ~95 %, one log line in five an error, a CRITICAL event), one in fifty went quiet 5 minutes ago."""
    rng = random.Random(now.timestamp())
    for i, server in enumerate(servers):
        batch = Batch()
        hot, quiet = HOT_EVERY > 0 and i % HOT_EVERY == 0, i % 50 == 1
        for step in range(steps):
            ts = now - timedelta(seconds=10 * step)
            if quiet and ts > now - timedelta(minutes=5) and steps > 1:
                continue
            if quiet and steps == 1:
                break
            for metric_type, name in METRICS:
                base = {"cpu_usage": 35, "memory_usage": 60, "disk_usage": 55, "load1": 1.5}[name]
                value = base * (2.7 if hot and name == "cpu_usage" else 1) + rng.gauss(0, base * 0.05)
                batch.add_sample(server.id, metric_type, name, {}, ts, value)
            for line in range(2):
                error = hot and (step * 2 + line) % 5 == 0
                batch.logs.append(
                    LogRecord(
                        ts=ts - timedelta(seconds=5 * line),
                        server_id=server.id,
                        service=f"bench-{server.labels['role']}",
                        level="ERROR" if error else "INFO",
                        message="upstream timeout" if error else "request served",
                    )  # fmt: skip
                )
            if hot and step % 6 == 0:
                batch.events.append(
                    EventRecord(
                        ts=ts, server_id=server.id, source="bench-payments", event_type="latency", status="CRITICAL"
                    )  # fmt: skip
                )
        if len(batch):
            if not quiet:
                batch.seen[str(server.id)] = now
            write(batch)


def make_rules(count: int) -> list[AlertRule]:
    rules = []
    for i in range(count):
        slot = i % 20
        base = {"name": f"{PREFIX}rule-{i:03d}", "severity": "critical" if i % 7 == 0 else "warning"}
        if slot < 10:  # threshold
            metric_type, name = METRICS[i % 4]
            limit = {"cpu_usage": 80, "memory_usage": 90, "disk_usage": 90, "load1": 4}[name]
            rules.append(AlertRule(**base, kind="threshold", metric_type=metric_type, metric_name=name,
                                   aggregate=["avg", "max", "last"][i % 3], threshold=limit + i % 5,
                                   recovery_threshold=limit - 5, window_seconds=60, for_seconds=10 * (i % 3),
                                   scope="labels" if i % 4 == 0 else "all", server_labels={"role": "web"}))  # fmt: skip
        elif slot < 13:  # absence: contact, or a metric
            metric_type, name = METRICS[i % 4] if i % 2 else ("", "")
            rules.append(AlertRule(**base, kind="absence", metric_type=metric_type, metric_name=name,
                                   window_seconds=120))  # fmt: skip
        elif slot < 15:  # anomaly
            metric_type, name = METRICS[i % 4]
            rules.append(AlertRule(**base, kind="anomaly", metric_type=metric_type, metric_name=name, threshold=4,
                                   window_seconds=60, trailing_seconds=600))  # fmt: skip
        elif slot < 17:  # log error rate (seed 004: > 5 % in 5 minutes)
            rules.append(AlertRule(**base, kind="log_error_rate", threshold=5, window_seconds=300))
        elif slot < 18:  # log pattern
            rules.append(AlertRule(**base, kind="log_pattern", pattern="timeout|refused", threshold=3,
                                   window_seconds=300))  # fmt: skip
        else:  # event status
            rules.append(AlertRule(**base, kind="event_status", service="bench-payments", window_seconds=300))
    return AlertRule.objects.bulk_create(rules)


def measure_rounds(servers: list[Server], rule_ids: list[int], rounds: int, interval: float) -> None:
    """Rounds as beat runs them: the fleet sends its next points, then every rule is evaluated."""
    times = []
    for n in range(rounds):
        if n:
            time.sleep(max(0.0, interval - times[-1]))
            feed(servers, datetime.now(UTC))
        started = time.perf_counter()
        outcomes = evaluate_rules(rule_ids)
        elapsed = time.perf_counter() - started
        times.append(elapsed)
        errors = [o for o in outcomes if o.error]
        print(
            f"round {n + 1}: {elapsed:.3f} s for {len(outcomes)} rules "
            f"(fired {sum(o.fired for o in outcomes)}, resolved {sum(o.resolved for o in outcomes)}, "
            f"errors {len(errors)}; open alerts now {Alert.objects.filter(state__in=['pending', 'firing']).count()})"
        )
        if errors:
            print("  first error:", errors[0].error)
    steady = times[1:] or times
    print(
        f"ROUND TIME: first {times[0]:.3f} s, steady median {statistics.median(steady):.3f} s, "
        f"max {max(steady):.3f} s (target < 2 s)"
    )


class Receiver:
    def __init__(self):
        self.arrivals: list[tuple[float, dict]] = []
        self.event = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.arrivals.append((time.time(), orjson.loads(body)))
                outer.event.set()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bench"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def measure_latency(probe: Server) -> None:
    interval = settings.ALERT_EVAL_INTERVAL_SECONDS
    hold = settings.ALERT_CPU_DURATION_SECONDS
    receiver = Receiver()
    NotificationChannel.objects.create(
        name=f"{PREFIX}latency", kind="webhook", config={"url": receiver.url, "secret": "bench"},
        label_matchers={"bench": "latency"},
    )  # fmt: skip
    rule = AlertRule.objects.create(
        name=f"{PREFIX}latency-probe", kind="threshold", metric_type="bench", metric_name="probe", aggregate="last",
        threshold=50, window_seconds=30, for_seconds=hold, scope="server", server=probe, labels={"bench": "latency"},
    )  # fmt: skip
    # the in-process rounds above queued a message per alert they fired; the worker starts afresh
    from config.celery import app

    app.control.purge()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    celery = [sys.executable, "-m", "celery", "-A", "config"]
    beat_schedule = str(Path(settings.DATA_DIR) / "bench-beat-schedule")
    procs = [
        subprocess.Popen([*celery, "worker", "-P", "threads", "-c", "4", "-l", "WARNING"], cwd=ROOT, env=env),
        subprocess.Popen([*celery, "beat", "-l", "WARNING", "-s", beat_schedule], cwd=ROOT, env=env),
    ]
    try:
        # wait until the worker has run a round with the probe rule in it
        deadline = time.time() + 60
        while time.time() < deadline:
            rule.refresh_from_db()
            if rule.last_evaluated_at:
                break
            time.sleep(0.2)
        else:
            raise SystemExit("the worker never evaluated the probe rule")
        time.sleep(random.uniform(0, interval))  # any phase against beat's ticks
        first = None
        while not receiver.event.is_set() and (first is None or time.time() - first < hold + interval + 60):
            now = datetime.now(UTC)
            batch = Batch()
            batch.add_sample(probe.id, "bench", "probe", {}, now, 99.0)
            write(batch)
            first = first or now.timestamp()
            receiver.event.wait(1.0)
        if not receiver.arrivals:
            print(f"LATENCY: no webhook within {hold + interval + 60} s")
            return
        arrived, body = receiver.arrivals[0]
        latency = arrived - first
        bound = hold + interval + 5
        print(
            f"LATENCY: first violating sample -> webhook ({body['kind']}, {body['alert']['rule']}) "
            f"{latency:.2f} s; bound for + interval + 5 = {bound} s -> {'OK' if latency <= bound else 'OVER'}"
        )
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--rules", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between rounds (beat: 10)")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the bench data afterwards")
    parser.add_argument("--hot-every", type=int, default=20, help="one server in N runs hot; 0: none")
    args = parser.parse_args()
    global HOT_EVERY
    HOT_EVERY = args.hot_every

    call_command("migrate", verbosity=0)
    clean()
    now = datetime.now(UTC)
    started = time.perf_counter()
    servers = load_fleet(args.servers, now)
    rules = make_rules(args.rules)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE monitoring_series; ANALYZE monitoring_sample; ANALYZE monitoring_logentry")
    print(f"loaded {args.servers} servers, {args.rules} rules in {time.perf_counter() - started:.1f} s "
          f"({settings.DATABASES['default']['HOST']}; machine shared with other work)")  # fmt: skip
    try:
        measure_rounds(servers, [r.pk for r in rules], args.rounds, args.interval)
        if not args.no_latency:
            measure_latency(servers[-1])
    finally:
        if not args.keep:
            clean()


if __name__ == "__main__":
    main()
