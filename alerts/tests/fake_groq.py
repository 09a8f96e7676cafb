"""A local HTTP server speaking Groq's chat-completions API, scripted per test.

Each queued reply is used once, in order; with none left it answers a valid
analysis. Every request is kept (path, headers, JSON body) so a test can check
what the SDK sent.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GOOD_ANSWER = {
    "analysis": "CPU on web-01 rose from about 20% to 97% while the database timed out.",
    "severity": "CRITICAL",
    "key_findings": ["cpu.usage on web-01 averaged 97 against 20 before", "42 database timeouts in web-app"],
    "recommendations": ["Find the process using the CPU on web-01", "Check the database connection pool"],
    "confidence": 0.8,
}


@dataclass
class Reply:
    status: int = 200
    content: str | None = None  # the assistant message; None: GOOD_ANSWER
    body: dict | None = None  # a whole body instead (errors)
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    finish_reason: str = "stop"


class FakeGroq:
    def __init__(self):
        self.replies: list[Reply] = []
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with fake._lock:
                    fake.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "json": json.loads(raw or b"{}")}
                    )
                    reply = fake.replies.pop(0) if fake.replies else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body
                if body is None:
                    model = fake.requests[-1]["json"].get("model", "")
                    content = json.dumps(GOOD_ANSWER) if reply.content is None else reply.content
                    body = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": reply.finish_reason,
                            }
                        ],
                        "usage": {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020},
                    }
                data = json.dumps(body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def __enter__(self) -> FakeGroq:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def error_body(status: int, message: str) -> dict:
    kind = {429: "rate_limit_exceeded", 500: "internal_server_error"}.get(status, "invalid_request_error")
    return {"error": {"message": message, "type": kind, "code": kind}}
