"""Adding a host: its agent token and the one line that installs the bundled agent with it.

A token names its host: the install line carries the hostname the token was
issued for, so the agent reports under that name whatever the machine calls
itself. Hosts already running Prometheus, an OpenTelemetry Collector or
collectd get ready-to-paste configuration with a fleet token instead.
"""

from __future__ import annotations

import shlex
import socket
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from servers.choices import TokenKind
from servers.models import AgentToken, Server

AGENT_FILE = Path(__file__).resolve().parent / "agent" / "monitoring_agent.py"
INSTALL_SCRIPT = Path(__file__).resolve().parent / "agent" / "install.sh"


def console_url(request=None) -> str:
    """The URL agents reach the console at: CONSOLE_URL, else the one this request came in on."""
    if settings.CONSOLE_URL:
        return settings.CONSOLE_URL.rstrip("/")
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    host = "127.0.0.1" if settings.HOST in ("0.0.0.0", "::", "") else settings.HOST  # noqa: S104 (a bind-all address)
    return f"http://{host}:{settings.PORT}"


def issue_host_token(hostname: str, name: str = "install line") -> tuple[Server, str]:
    """An agent token for ``hostname`` (the server is created if it is new): (server, plain token)."""
    try:
        with transaction.atomic():
            server, _ = Server.objects.get_or_create(hostname=hostname)
    except IntegrityError:  # created by a concurrent request
        server = Server.objects.get(hostname=hostname)
    _, raw = AgentToken.issue(TokenKind.AGENT, server=server, name=name[:128])
    return server, raw


def install_line(url: str, token: str, hostname: str) -> str:
    """The command that installs and starts the agent on a host, reporting as ``hostname``."""
    return (
        f"curl -fsSL {url}/agent/install.sh | sudo sh -s -- --token {shlex.quote(token)} "
        f"--hostname {shlex.quote(hostname)}"
    )


def run_line(url: str, token: str, hostname: str) -> str:
    """The agent run by hand (no root, no systemd), once monitoring_agent.py is downloaded."""
    return f"python3 -S monitoring_agent.py --url {url} --token {shlex.quote(token)} --hostname {shlex.quote(hostname)}"


def install_script(url: str) -> str:
    """install.sh with this console's URL filled in."""
    return INSTALL_SCRIPT.read_text().replace("@CONSOLE_URL@", url)


def receiver_configs(url: str, fleet_token: str) -> list[tuple[str, str]]:
    """(title, text) of configuration that points Prometheus, the OTel Collector and collectd here."""
    return [
        (
            "Prometheus (prometheus.yml)",
            f"remote_write:\n  - url: {url}/api/v1/prom/write\n    authorization:\n"
            f"      type: Bearer\n      credentials: {fleet_token}\n",
        ),
        (
            "OpenTelemetry Collector",
            f"exporters:\n  otlphttp:\n    endpoint: {url}\n    headers:\n"
            f'      Authorization: "Bearer {fleet_token}"\n'
            "service:\n  pipelines:\n    metrics:\n      receivers: [hostmetrics]\n      exporters: [otlphttp]\n",
        ),
        (
            "collectd (collectd.conf)",
            f'LoadPlugin write_http\n<Plugin write_http>\n  <Node "console">\n    URL "{url}/api/v1/collectd"\n'
            f'    Format "JSON"\n    Header "Authorization: Bearer {fleet_token}"\n    StoreRates true\n'
            "  </Node>\n</Plugin>\n",
        ),
    ]


def self_monitor_hostname() -> str:
    return settings.SELF_MONITOR_HOSTNAME or socket.gethostname() or "localhost"


def self_monitor_token(hostname: str, path: Path) -> str:
    """The console host's own agent token, kept in ``path`` (0600) and reused while it is valid."""
    if path.exists():
        raw = path.read_text().strip()
        token = AgentToken.find(raw)
        if token is not None and token.server is not None and token.server.hostname == hostname:
            return raw
    _, raw = issue_host_token(hostname, name="self-monitoring")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(raw + "\n")
    path.chmod(0o600)
    return raw
