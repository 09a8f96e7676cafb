"""Faults under load: Redis killed, PostgreSQL stopped, a Celery worker SIGKILLed, while four agents post.

Starts a console of its own (daphne, a Celery worker, Celery beat) on an embedded PostgreSQL and
Redis of its own under --data-dir (default .data/faults, emptied first). Four agents post seed 002
bodies (a sample a host every --interval s, each with its own timestamp, so a retry is recognised)
and retry whatever was not acknowledged, honouring Retry-After. Meanwhile:

1. Redis is SIGKILLed for --redis-down s: ingest must keep answering 2xx; /health says degraded and
   recovers; within 10 s of Redis's return a new WebSocket receives frames again.
2. PostgreSQL is stopped for --postgres-down s: ingest answers 503 with Retry-After; 2xx again
   within 20 s of its return.
3. A Celery worker process is SIGKILLed: the next evaluation round still runs, and the built-in
   CPU rule still fires for a host that reports 95 %.

Then every acknowledged sample must be stored exactly once and the only 5xx any agent saw 503.
Prints acknowledged, lost, doubled, answers by code, and how long each recovery took; exits 1
when a promise was broken.

    .venv/bin/python bench/faults.py [--redis-down 8] [--postgres-down 8] [--interval 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import orjson
import psycopg
import requests
from harness import ROOT, Daphne, issue_token
from live import Socket

sys.path.insert(0, str(ROOT))
from config.embedded import EmbeddedPostgres, EmbeddedRedis  # noqa: E402

HOSTS = ("fault-1", "fault-2", "fault-3", "fault-4")
HOT_HOST = "fault-4"  # reports 95 % CPU after the worker is killed


class Agent(threading.Thread):
    """Posts a seed 002 body every interval; retries it until it is acknowledged (2xx)."""

    def __init__(self, url: str, token: str, host: str, interval: float, answers: collections.Counter):
        super().__init__(name=host, daemon=True)
        self.url, self.token, self.host, self.interval = url, token, host, interval
        self.answers = answers
        self.acknowledged: list[float] = []
        self.cpu = 20.0
        self.stopping = threading.Event()
        self.session = requests.Session()
        self.last_ok = 0.0

    def run(self) -> None:
        while not self.stopping.is_set():
            stamp = round(time.time(), 3)
            body = orjson.dumps({"timestamp": stamp, "total_cpu_percent": self.cpu, "top_processes": []})
            if self.deliver(body):
                self.acknowledged.append(stamp)
            self.stopping.wait(self.interval)

    def deliver(self, body: bytes) -> bool:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                response = self.session.post(
                    f"{self.url}/ingest/metrics",
                    data=body,
                    headers={"X-Agent-Token": self.token, "Content-Type": "application/json"},
                    timeout=10,
                )
                code = response.status_code
            except requests.RequestException as exc:
                code, response = f"no answer ({type(exc).__name__})", None
            self.answers[code] += 1
            if isinstance(code, int) and 200 <= code < 300:
                self.last_ok = time.monotonic()
                return True
            if isinstance(code, int) and code < 500 and code != 429:
                return False  # refused for good: not acknowledged, not retried
            wait = 0.5
            if response is not None and response.headers.get("Retry-After"):
                wait = min(2.0, float(response.headers["Retry-After"]))
            time.sleep(wait)
        return False


class Console:
    """PostgreSQL, Redis, daphne, a Celery worker and beat, under one data folder."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.postgres = EmbeddedPostgres(data_dir)
        self.redis = EmbeddedRedis(data_dir)
        self.procs: dict[str, subprocess.Popen] = {}
        self.web: Daphne | None = None
        self.url = ""

    def start(self) -> dict:
        database_url = self.postgres.ensure_running()
        redis_url = self.redis.ensure_running()
        self.redis_port = self.redis.port()
        self.postgres_port = self.postgres.port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-secret-key-bench-only-secret-key",
            "DATA_DIR": str(self.data_dir),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "AGENT_RATE_LIMIT_PER_MINUTE": "1200",
            "ALERT_EVAL_INTERVAL_SECONDS": "3",
            "ALERT_CPU_DURATION_SECONDS": "3",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
        self.env = env
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        commands = {
            "worker": [python, "-m", "celery", "-A", "config", "worker", "-c", "2", "-l", "WARNING"],
            "beat": [python, "-m", "celery", "-A", "config", "beat", "-l", "WARNING",
                     "-s", str(self.data_dir / "beat-schedule")],
        }  # fmt: skip
        self.web = Daphne(env, log_path=logs / "web.log")  # the one way a console is started (bench/harness.py)
        self.url = self.web.url
        self.web.launch()
        assert self.web.process is not None
        self.procs["web"] = self.web.process
        for name, command in commands.items():
            log = (logs / f"{name}.log").open("ab")
            self.procs[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.web.wait()
        return env

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.postgres.stop()
        self.redis.stop()

    def kill_redis(self) -> None:
        pid = int((self.redis.dir / "redis.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)

    def start_redis(self) -> None:
        """Redis again, on the same port (as a restarted service or container comes back)."""
        subprocess.run(
            [str(self.redis.binary), "--bind", "127.0.0.1", "--port", str(self.redis_port), "--daemonize", "yes",
             "--dir", str(self.redis.dir), "--pidfile", str(self.redis.dir / "redis.pid"),
             "--logfile", str(self.redis.log), "--save", "", "--appendonly", "no"],
            check=True, capture_output=True, start_new_session=True,
        )  # fmt: skip

    def stop_postgres(self) -> None:
        self.postgres.stop()

    def start_postgres(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.postgres_port} -k '' -c max_connections=200"
        subprocess.run(
            [str(self.postgres.bin_dir / "pg_ctl"), "-D", str(self.postgres.pgdata), "-l", str(self.postgres.log),
             "-o", options, "-w", "start"],
            check=True, capture_output=True, start_new_session=True, **self.postgres._run_as(),
        )  # fmt: skip

    def worker_children(self) -> list[int]:
        worker = self.procs["worker"].pid
        out = subprocess.run(["pgrep", "-P", str(worker)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def health(self) -> str:
        try:
            return requests.get(f"{self.url}/health", timeout=5).json().get("status", "?")
        except (requests.RequestException, ValueError):
            return "no answer"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(what: str, check, timeout: float) -> float | None:
    """Seconds until ``check()`` held, None when it did not within ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.2)
    print(f"  !! {what}: not within {timeout:.0f} s")
    return None


async def _socket_gets_a_frame(url: str, token: str, timeout: float) -> bool:
    parts = urllib.parse.urlsplit(url)
    try:
        socket = await asyncio.wait_for(
            Socket.connect(parts.hostname, parts.port, f"/api/ws/live?token={token}&defaults=none"), timeout
        )
        socket.send(0x1, orjson.dumps({"type": "subscribe", "subscription_type": "metrics"}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = orjson.loads(await asyncio.wait_for(socket.receive(), deadline - time.monotonic()))
            if frame.get("type") == "metrics":
                socket.writer.close()
                return True
    except (OSError, ConnectionError, TimeoutError, asyncio.IncompleteReadError, ValueError):
        return False
    return False


def socket_gets_a_frame(url: str, token: str, timeout: float = 3) -> bool:
    return asyncio.run(_socket_gets_a_frame(url, token, timeout))


class Dashboard(threading.Thread):
    """A page's live socket, open across the faults, reconnecting as console.js does (1 s, doubling to 15 s)."""

    def __init__(self, url: str, token: str):
        super().__init__(name="dashboard", daemon=True)
        self.url, self.token = url, token
        self.frames: list[float] = []  # when each metrics frame arrived
        self.closes: list[tuple[float, str]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        delay = 1.0
        while not self.stopping.is_set():
            try:
                socket = await Socket.connect(
                    parts.hostname, parts.port, f"/api/ws/live?token={self.token}&defaults=none"
                )
                delay = 1.0
                socket.send(0x1, orjson.dumps({"type": "subscribe", "subscription_type": "metrics"}))
                while not self.stopping.is_set():
                    frame = orjson.loads(await asyncio.wait_for(socket.receive(), 1))
                    if frame.get("type") == "metrics":
                        self.frames.append(time.monotonic())
            except TimeoutError:
                continue
            except (OSError, ConnectionError, asyncio.IncompleteReadError) as exc:
                self.closes.append((time.monotonic(), str(exc) or type(exc).__name__))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 15.0)

    def frames_after(self, moment: float) -> bool:
        return any(at > moment for at in self.frames)

    def first_frame_after(self, moment: float) -> float | None:
        later = [at - moment for at in self.frames if at > moment]
        return min(later) if later else None


def stored_samples(database_url: str) -> dict[str, collections.Counter]:
    """host -> Counter of stored cpu_usage timestamps (epoch ms)."""
    found: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """
            SELECT v.hostname, round(extract(epoch FROM s.ts) * 1000)::bigint
            FROM monitoring_sample s JOIN monitoring_series r ON r.id = s.series_id
            JOIN servers_server v ON v.id = r.server_id
            WHERE r.metric_type = 'system' AND r.name = 'cpu_usage' AND v.hostname LIKE 'fault-%%'
            """
        ).fetchall()
    for host, ms in rows:
        found[host][ms] += 1
    return found


def cpu_alert_fired(database_url: str, since: float) -> bool:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            """
            SELECT count(*) FROM alerts_alert a JOIN servers_server v ON v.id = a.server_id
            WHERE v.hostname = %s AND a.fired_at > to_timestamp(%s)
            """,
            [HOT_HOST, since],
        ).fetchone()
    return row[0] > 0


def run(args) -> int:
    data_dir = Path(args.data_dir).resolve()
    shutil.rmtree(data_dir, ignore_errors=True)
    console = Console(data_dir)
    report: dict[str, object] = {}
    broken: list[str] = []
    env = console.start()
    try:
        tokens = {host: issue_token(host, env=env) for host in HOSTS}
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c",
             "from django.contrib.auth import get_user_model; get_user_model().objects.create_user('fault-watcher')"],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip
        watcher = issue_token("--user", "fault-watcher", env=env)
        answers: collections.Counter = collections.Counter()
        agents = [Agent(console.url, tokens[host], host, args.interval, answers) for host in HOSTS]
        for agent in agents:
            agent.start()
        time.sleep(3)
        if not socket_gets_a_frame(console.url, watcher, 10):
            broken.append("no live frame before any fault")
        dashboard = Dashboard(console.url, watcher)
        dashboard.start()
        wait_for("the dashboard's first frame", lambda: dashboard.frames_after(0), 10)

        print(f"1. Redis SIGKILLed for {args.redis_down} s")
        before = sum(answers[c] for c in answers if c != 200)
        console.kill_redis()
        report["health while Redis is down"] = wait_for("/health degraded", lambda: console.health() == "degraded", 15)
        time.sleep(args.redis_down)
        refused_while_down = sum(answers[c] for c in answers if c != 200) - before
        console.start_redis()
        back = time.monotonic()
        report["/health ok again after Redis (s)"] = wait_for("/health ok", lambda: console.health() == "ok", 30)
        report["new WebSocket gets frames after Redis (s)"] = wait_for(
            "a WebSocket frame", lambda: socket_gets_a_frame(console.url, watcher, 2), 30
        )
        ws_after = time.monotonic() - back
        if ws_after > 10:
            broken.append(f"WebSocket frames came back {ws_after:.1f} s after Redis, more than 10 s")
        wait_for("the dashboard's frames", lambda: dashboard.frames_after(back), 30)
        report["the open dashboard's socket gets frames again after Redis (s)"] = dashboard.first_frame_after(back)
        report["the dashboard's socket closed"] = [reason for at, reason in dashboard.closes]
        if not dashboard.frames_after(back):
            broken.append("the open dashboard's socket did not get frames again after Redis returned")
        report["ingest answers other than 200 while Redis was down"] = refused_while_down

        print(f"2. PostgreSQL stopped for {args.postgres_down} s")
        console.stop_postgres()
        down_answers = collections.Counter(answers)
        time.sleep(args.postgres_down)
        console.start_postgres()
        back = time.monotonic()
        report["ingest 2xx again after PostgreSQL (s)"] = wait_for(
            "ingest 2xx", lambda: all(agent.last_ok > back for agent in agents), 40
        )
        during = {code: answers[code] - down_answers[code] for code in answers if answers[code] != down_answers[code]}
        report["answers while PostgreSQL was down and coming back"] = during
        if (report["ingest 2xx again after PostgreSQL (s)"] or 99) > 20:
            broken.append("ingest not 2xx within 20 s of PostgreSQL's return")

        print("3. a Celery worker process SIGKILLed; fault-4 reports 95 % CPU")
        children = console.worker_children()
        killed_at = time.time()
        if children:
            os.kill(children[0], signal.SIGKILL)
        agents[3].cpu = 95.0
        fired = wait_for("the CPU alert", lambda: cpu_alert_fired(env["DATABASE_URL"], killed_at), 60)
        report["CPU alert fired after the worker was killed (s)"] = fired
        if fired is None:
            broken.append("the CPU rule did not fire after a worker process was killed")

        dashboard.stopping.set()
        for agent in agents:
            agent.stopping.set()
        for agent in agents:
            agent.join(150)
        stored = stored_samples(env["DATABASE_URL"])
        acknowledged = sum(len(agent.acknowledged) for agent in agents)
        lost = sum(
            1 for agent in agents for stamp in agent.acknowledged if stored[agent.host][round(stamp * 1000)] == 0
        )
        doubled = sum(1 for host in stored for count in stored[host].values() if count > 1)
        fives = {code: n for code, n in answers.items() if isinstance(code, int) and code >= 500 and code != 503}
        print()
        print(f"acknowledged: {acknowledged}")
        print(f"lost: {lost}")
        print(f"doubled: {doubled}")
        print("answers by code: " + json.dumps({str(k): v for k, v in sorted(answers.items(), key=str)}))
        for name, value in report.items():
            print(f"{name}: {value if not isinstance(value, float) else round(value, 1)}")
        if lost or doubled:
            broken.append(f"{lost} acknowledged samples lost, {doubled} stored twice")
        if fives:
            broken.append(f"5xx other than 503: {fives}")
    finally:
        console.stop()
    for problem in broken:
        print(f"BROKEN: {problem}")
    return 1 if broken else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(ROOT / ".data" / "faults"))
    parser.add_argument("--redis-down", type=float, default=8)
    parser.add_argument("--postgres-down", type=float, default=8)
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between an agent's posts")
    raise SystemExit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
