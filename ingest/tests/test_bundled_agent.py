"""The bundled agent (servers/agent/monitoring_agent.py) reports a host to a real console.

The agent runs as its users run it: a separate ``python3 -S`` process (the oldest
Python it supports when this machine has one), reading this machine's /proc,
posting to daphne on the test database.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings

from config.tests.fixtures import wait_until
from monitoring.models import Sample, Snapshot
from servers.models import AgentToken, Server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

AGENT = Path(settings.BASE_DIR) / "servers" / "agent" / "monitoring_agent.py"
OLDEST_PYTHON = next(
    (p for p in ("/root/.pyenv/versions/3.8.18/bin/python3.8", shutil.which("python3.8")) if p and Path(p).exists()),
    sys.executable,
)


def agent_token(hostname: str) -> str:
    server = Server.objects.create(hostname=hostname)
    return AgentToken.issue("agent", server=server)[1]


def run_agent(url: str, token: str, hostname: str, *args: str, log: Path | None = None):
    argv = [OLDEST_PYTHON, "-S", str(AGENT), "--url", url, "--token", token, "--hostname", hostname, "--verbose"]
    if log is None:
        return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=60)
    return subprocess.Popen([*argv, *args], stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)


def stored(hostname: str, metric: str = "memory_usage") -> list[datetime]:
    """Timestamps of the host's samples of a seed 000 metric (one per snapshot delivered), in order."""
    return list(
        Sample.objects.filter(series__server__hostname=hostname, series__metric_type="system", series__name=metric)
        .order_by("ts")
        .values_list("ts", flat=True)
    )


def test_one_report_lands_as_a_snapshot_with_cpu_memory_disk_and_processes(start_console):
    console = start_console()
    token = agent_token("agent-once")

    finished = run_agent(console.url, token, "agent-once", "--once")

    assert finished.returncode == 0, finished.stdout + finished.stderr
    snapshot = Snapshot.objects.get(server__hostname="agent-once")
    metrics = snapshot.payload["metrics"]
    for key in ("cpu_usage", "memory_usage", "disk_usage", "network_rx_bytes_per_sec", "tcp_connections", "load_1m"):
        assert isinstance(metrics[key], int | float), key
    assert 0 < metrics["memory_usage"] < 100
    assert 0 <= snapshot.payload["score"] <= 1
    assert snapshot.processes and {"pid", "name", "cpu_percent", "memory_mb"} <= set(snapshot.processes[0])
    names = set(
        Sample.objects.filter(series__server__hostname="agent-once").values_list("series__name", flat=True).distinct()
    )
    assert {"cpu_usage", "memory_usage", "disk_usage", "uptime_seconds"} <= names


def test_a_wrong_token_is_reported_and_the_agent_says_it_failed(start_console):
    console = start_console()

    finished = run_agent(console.url, "mca_not-a-token", "agent-wrong", "--once")

    assert "401" in finished.stdout
    assert not Server.objects.filter(hostname="agent-wrong").exists()


def test_a_console_restart_leaves_no_gap(start_console, tmp_path):
    console = start_console()
    token = agent_token("agent-restart")
    log = tmp_path / "agent.log"
    agent = run_agent(console.url, token, "agent-restart", "--interval", "1", log=log)
    try:
        wait_until(lambda: len(stored("agent-restart")) >= 2, 30, what="the first snapshots")
        console.stop()
        wait_until(
            lambda: log.read_text().count("unreachable") >= 2, 30, what="the agent to notice the console is gone"
        )
        before = len(stored("agent-restart"))
        console.start()
        wait_until(
            lambda: "(0 waiting)" in log.read_text().rsplit("unreachable", 1)[1], 60, what="the backlog to drain"
        )
        # the backlog, then the agent's next report (a loaded machine may log the drain before it)
        wait_until(
            lambda: len(stored("agent-restart")) > before + 2, 30, what="the reports made while the console was down"
        )
    finally:
        agent.terminate()
        agent.wait(10)
    times = stored("agent-restart")
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert len(times) > before + 2, "the reports made while the console was down were delivered"
    assert max(gaps) < 3, f"a gap in the snapshots: {gaps}"
    assert len(set(times)) == len(times), "a retried report was stored twice"


def test_a_429_is_honoured_and_nothing_is_lost(start_console, tmp_path):
    # three requests a minute: the second report's process table is refused with Retry-After
    # (the seconds left in the minute); start late in a minute so the test waits seconds, not a minute
    wait_until(lambda: 40 <= time.time() % 60 <= 48, 60, what="the end of a minute")
    console = start_console(AGENT_RATE_LIMIT_PER_MINUTE="3")
    token = agent_token("agent-429")
    log = tmp_path / "agent.log"
    agent = run_agent(console.url, token, "agent-429", "--interval", "1", log=log)
    try:
        refused = wait_until(lambda: re.search(r"\(429 .*retry in ([\d.]+) s", log.read_text()), 30, what="a 429")
        wait_until(
            lambda: re.search(r"\(429 .*\n(?:.*\n)*?.* 200 \(", log.read_text()), 40, what="a delivery after the 429"
        )
        refused_at = _logged_at(next(line for line in log.read_text().splitlines() if "(429" in line))
        # a report made while the agent waited arrives with the next window's requests
        wait_until(
            lambda: any(ts > refused_at.astimezone() for ts in stored("agent-429")),
            30,
            what="a report made while waiting",
        )
    finally:
        agent.terminate()
        agent.wait(10)
    lines = log.read_text().splitlines()
    first_429 = next(i for i, line in enumerate(lines) if "not delivered (429" in line)
    next_200 = next(i for i, line in enumerate(lines) if i > first_429 and " 200 (" in line)
    waited = (_logged_at(lines[next_200]) - _logged_at(lines[first_429])).total_seconds()
    assert waited >= float(refused.group(1)) - 0.1, "the agent retried before Retry-After"
    retries_in_between = [line for line in lines[first_429 + 1 : next_200] if "not delivered" in line]
    assert not retries_in_between, "the agent kept knocking while told to wait"
    times = stored("agent-429")
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert len(times) >= 3 and max(gaps) < 3, f"reports made while waiting were lost: {gaps}"


def _logged_at(line: str) -> datetime:
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")


def test_the_install_line_installs_the_agent_from_the_console_and_reports(start_console, tmp_path):
    console = start_console()
    token = agent_token("agent-installed")
    env = {
        "PATH": f"{Path(OLDEST_PYTHON).parent}:/usr/bin:/bin",
        "MONITORING_AGENT_PREFIX": str(tmp_path / "opt"),
        "MONITORING_AGENT_ETC": str(tmp_path / "etc"),
    }
    if not Path(env["PATH"].split(":")[0], "python3").exists():
        env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"

    finished = subprocess.run(
        f"curl -fsSL {console.url}/agent/install.sh | sh -s -- --token {token} --hostname agent-installed",
        shell=True, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "delivered: agent-installed is on the fleet page" in finished.stdout
    assert "no systemd on this host; run the agent in the background with:" in finished.stdout
    assert (tmp_path / "opt" / "monitoring_agent.py").read_bytes() == AGENT.read_bytes()
    assert oct((tmp_path / "etc" / "token").stat().st_mode & 0o777) == "0o600"
    assert Snapshot.objects.filter(server__hostname="agent-installed").exists()
