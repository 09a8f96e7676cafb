"""Fixtures the ingest tests share: a clean throttle, a fleet client, an unreachable database,
a real daphne serving the console."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from ingest.base import rate_limiter


@pytest.fixture(autouse=True)
def _fresh_throttle():
    """Each test starts with no request counted and Redis believed up."""
    rate_limiter.reset()
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("ingest:rate:*"):
        client.delete(key)
    yield
    rate_limiter.reset()


@pytest.fixture
def fleet(client, fleet_token):
    """A Django test client speaking with a fleet token."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {fleet_token}"
    return client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _unreachable_database():
    """Point the connection at a loopback port nobody listens on: a real OperationalError."""
    port = free_port()
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=port)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.fixture
def unreachable_database():
    return _unreachable_database


class DaphneConsole:
    """The console under a real daphne on a loopback port, on this test's (committed) database.

    It can be stopped and started again on the same port (an agent's view of a console restart).
    """

    def __init__(self, log_path: Path, **overrides: str):
        db = connection.settings_dict
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "DATABASE_URL": f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "AGENT_RATE_LIMIT_PER_MINUTE": "0",
            **overrides,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> str:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "config.asgi:application"],
            cwd=Path(settings.BASE_DIR),
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self.url
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"daphne did not start: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.2)

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


@pytest.fixture
def start_console(transactional_db, tmp_path):
    """start_console(**settings) -> a started DaphneConsole; all are stopped after the test."""
    started: list[DaphneConsole] = []

    def start(**overrides: str) -> DaphneConsole:
        console = DaphneConsole(tmp_path / f"daphne-{len(started)}.log", **overrides)
        started.append(console)
        console.start()
        return console

    yield start
    for console in started:
        console.stop()


@pytest.fixture
def daphne_console(start_console):
    """The console under a real daphne on a free loopback port, on this test's (committed) database."""
    return start_console().url
