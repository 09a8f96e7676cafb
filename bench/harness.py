"""What the HTTP benchmarks share: start daphne consoles on free ports, issue tokens, read CPU."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench_env(**overrides: str) -> dict:
    """The environment a started console runs with: DEBUG off unless asked, a bench-only secret."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": os.environ.get("DEBUG", "false")}
    env.setdefault("SECRET_KEY", "bench-only-secret-key-bench-only-secret-key")
    for name, value in overrides.items():
        env.setdefault(name, value)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    parts = urllib.parse.urlsplit(url)
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the console at {url} did not come up")


def start_consoles(count: int, env: dict) -> tuple[list[str], list[subprocess.Popen]]:
    """Migrate, then start ``count`` daphne processes on free ports (embedded services as ``make run``)."""
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    urls, procs = [], []
    for _ in range(count):
        port = free_port()
        procs.append(
            subprocess.Popen(
                [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        wait_up(url)
    return urls, procs


def issue_token(*args: str, env: dict | None = None) -> str:
    """A token from ``manage.py issue_token ARGS`` (its last line)."""
    out = subprocess.run(
        [sys.executable, "manage.py", "issue_token", *args],
        cwd=ROOT,
        env=env or {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1].strip()


def cpu_seconds(procs: list[subprocess.Popen]) -> float:
    """CPU time (user + system) the started consoles have used, threads included."""
    total = 0.0
    for proc in procs:
        with open(f"/proc/{proc.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total
