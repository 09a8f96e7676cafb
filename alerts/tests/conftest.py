"""Fixtures of the alerts tests: a real HTTP receiver, a local Groq (samples and logs: config/tests/fixtures.py)."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    """A real HTTP server on 127.0.0.1 recording what it is sent; answers the codes it is told to."""

    def __init__(self):
        self.requests: list[dict] = []
        self.codes: list[int] = []  # answered in turn; 200 once exhausted
        self.location = ""  # sent as Location (a redirect's target) when set
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code = receiver.codes.pop(0) if receiver.codes else 200
                with receiver.arrived:
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                            "at": time.time(),
                            "code": code,
                        }
                    )
                    receiver.arrived.notify_all()
                self.send_response(code)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 20) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
                self.arrived.wait(left)
        return list(self.requests)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


BACKGROUND_GROQ_KEY = "gsk_test_secret_key_0123456789"


@pytest.fixture
def fresh_llm_budget():
    """Background model work starts with this hour's token budget unspent and no 429 cooldown."""
    from datetime import UTC

    from django.core.cache import cache

    from alerts.analysis import spend

    keys = [spend.COOLDOWN_KEY, spend._hour_key(datetime.now(UTC).timestamp())]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.fixture
def background_groq(settings, fresh_llm_budget):
    """A local server playing Groq (fake_groq.py) for background work: log classification, event reviews."""
    from alerts.tests.fake_groq import FakeGroq

    with FakeGroq() as server:
        settings.ENABLE_LLM_MONITORING = True
        settings.GROQ_API_KEY = BACKGROUND_GROQ_KEY
        settings.GROQ_BASE_URL = server.url
        settings.GROQ_TIMEOUT_SECONDS = 2
        yield server
