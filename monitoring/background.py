"""A bounded queue drained by one background thread: work a request asks for but must never wait on.

The live publisher (monitoring/live/publisher.py) and seed 002's Redis side
(monitoring/seed002_redis.py) each keep one. ``offer`` never blocks: a full queue
drops the item and counts it. The thread starts on first use (again if it died)
and handles the items in order; ``drain`` lets tests and benchmarks wait for it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any


class BackgroundSender:
    """Subclasses give ``thread_name`` and ``handler()``, called once in the thread, answering what handles an item."""

    thread_name = "background-sender"

    def __init__(self, size: int):
        self.dropped = 0
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def offer(self, item: Any) -> bool:
        """Queue an item for the thread; never blocks. False, and counted as dropped, when the queue is full."""
        self._ensure_thread()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def handler(self) -> Callable[[Any], None]:
        raise NotImplementedError

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        handle = self.handler()
        while True:
            item = self._queue.get()
            try:
                handle(item)
            finally:
                self._queue.task_done()

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far was handled (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False
