"""Starting the console under daphne, for the benchmarks and the tests alike; issuing tokens; reading CPU.

``Daphne`` is the one way a real console is started on a loopback port: the
benchmarks start theirs with ``start_consoles``, the tests with the
``start_console`` fixture (conftest.py), which points it at the test database.
"""

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


def healthy(url: str) -> bool:
    """Whether the console at ``url`` answers /healthz with a 200."""
    parts = urllib.parse.urlsplit(url)
    try:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


def wait_up(url: str, timeout: float = 60) -> None:
    """Wait for a console started elsewhere (``--url``); exit the benchmark when it never answers."""
    deadline = time.monotonic() + timeout
    while not healthy(url):
        if time.monotonic() > deadline:
            raise SystemExit(f"the console at {url} did not come up")
        time.sleep(0.3)


class Daphne:
    """daphne serving config.asgi on a loopback port; it can be stopped and started again on the same port."""

    def __init__(self, env: dict, *, log_path: Path | None = None, host: str = "127.0.0.1"):
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self.process: subprocess.Popen | None = None

    def launch(self) -> None:
        """Start the process; ``wait`` for it to answer."""
        out = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            # manage.py web: daphne with the options the console's settings give it (heartbeat pings)
            [sys.executable, "manage.py", "web", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        if self.log_path:
            out.close()

    def wait(self, timeout: float = 60) -> str:
        """Poll /healthz until it answers (a deadline, not a fixed sleep); RuntimeError if daphne died or never did."""
        deadline = time.monotonic() + timeout
        while not healthy(self.url):
            assert self.process is not None
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = self.log_path.read_text()[-2000:] if self.log_path else ""
                raise RuntimeError(f"daphne did not start on {self.url}: {log}")
            time.sleep(0.1)
        return self.url

    def start(self, timeout: float = 60) -> str:
        self.launch()
        return self.wait(timeout)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def start_consoles(count: int, env: dict) -> tuple[list[str], list[subprocess.Popen]]:
    """Migrate, then start ``count`` daphne processes on free ports (embedded services as ``make run``)."""
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    consoles = [Daphne(env) for _ in range(count)]
    for console in consoles:
        console.launch()
    try:
        urls = [console.wait() for console in consoles]
    except RuntimeError as exc:
        for console in consoles:
            console.stop()
        raise SystemExit(str(exc))
    return urls, [console.process for console in consoles if console.process is not None]


def issue_token(*args: str, env: dict | None = None) -> str:
    """A token from ``manage.py issue_token ARGS`` (its last line)."""
    out = subprocess.run(
        [sys.executable, "manage.py", "issue_token", *args],
        cwd=ROOT,
        env=env or bench_env(),
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
