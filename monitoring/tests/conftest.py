"""A real console for browser tests: daphne (the root conftest's start_console) on the test database, and Chromium.

Browser tests are marked ``browser``; without Chromium they are skipped with a
message saying how to get it. Also a real Prometheus; the named servers (web01, web02, db01, db02)
and ``write_samples`` are the root conftest's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from bench.harness import free_port

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture
def console_server(start_console):
    """daphne serving config.asgi on a free port, reading and writing the test database (log in test-artifacts/)."""
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "daphne.log"
    log.write_bytes(b"")
    return start_console(log_path=log, host="localhost", DATABASE_CONN_MAX_AGE="0").url


@pytest.fixture
def screenshot():
    """Save a full-page screenshot under test-artifacts/ (kept by CI, looked at by people)."""

    def take(page, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def browser(monkeypatch):
    """A headless Chromium from the system's packages (never a downloaded one)."""
    path = chromium_path()
    if path is None:
        pytest.skip("browser tests need Chromium: apt-get install chromium (looked in /usr/bin/chromium and PATH)")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme="dark")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
    # ORM calls made while Playwright's loop ran may have opened a connection of their own
    connections.close_all()


PROMETHEUS_MISSING = "Prometheus is not installed here (apt-get install prometheus; CI's .ci/run installs it)"


@contextlib.contextmanager
def running_prometheus(folder: Path, config: str, *flags: str):
    """A real Prometheus (Debian's package) with this configuration on a free port; yields its URL."""
    binary = shutil.which("prometheus")
    if not binary:
        pytest.skip(PROMETHEUS_MISSING)
    port = free_port()
    (folder / "prometheus.yml").write_text(config)
    log_path = folder / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [binary, f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn", *flags],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log_path.read_text()[-2000:])
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            process.wait(10)
