"""The first minute: `make run` (manage.py console) shows its own host on the fleet page, in Chromium.

The console runs as `make run` runs it, in a subprocess, on the test database;
its bundled agent (SELF_MONITOR, on by default) reports this machine.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings
from django.db import connection
from playwright.sync_api import expect

from bench.harness import free_port
from monitoring.tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def make_run(transactional_db, tmp_path):
    """`manage.py console` (what `make run` runs) on a free port, on this test's database."""
    db = connection.settings_dict
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "PORT": str(port),
        "ADMIN_USER": "admin",
        "ADMIN_PASSWORD": "first-minute-password",
    }
    env.pop("SELF_MONITOR", None)  # the default is what a new user gets
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "make-run.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "manage.py", "console", "--no-worker"],
        cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the console did not come up; see {ARTIFACTS / 'make-run.log'}")
                time.sleep(0.3)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_make_run_shows_its_own_host_with_cpu_memory_and_disk_within_a_minute(make_run, page, screenshot):
    answered = time.monotonic()
    hostname = socket.gethostname()
    page.goto(f"{make_run}/console/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "first-minute-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{make_run}/console/")

    deadline = answered + 60
    row = page.locator("#fleet tr[data-server]", has_text=hostname)
    try:
        # a new host's row comes with a reload; its figures then move live (the fleet stream)
        while not row.count():
            assert time.monotonic() < deadline
            page.wait_for_timeout(500)
            page.reload()
        for i in range(3):
            left_ms = max(0.0, deadline - time.monotonic()) * 1000
            expect(row.locator(".figure .value").nth(i)).to_have_text(re.compile(r"\d"), timeout=left_ms)
    except AssertionError:
        screenshot(page, "first-minute-missing")
        raise AssertionError(f"{hostname} did not show CPU, memory and disk within 60 s of the console answering")
    screenshot(page, "first-minute-fleet")
    assert row.locator(".badge").first.inner_text().lower() == "up"
    cpu, memory, disk = (float(row.locator(".figure .value").nth(i).inner_text().rstrip("%")) for i in range(3))
    assert 0 <= cpu <= 100 and 0 < memory < 100 and 0 < disk < 100

    # the next host: "Add a server" gives the line to paste on it
    page.click("#add-server")
    page.fill("input[name=hostname]", "web-07")
    page.click("text=Issue a token and show the install line")
    line = page.locator("#install-line").inner_text()
    screenshot(page, "add-a-server")
    assert line.startswith(f"curl -fsSL {make_run}/agent/install.sh | sudo sh -s -- --token mca_")
    assert line.endswith("--hostname web-07")
