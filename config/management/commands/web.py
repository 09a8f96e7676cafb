"""``manage.py web``: daphne serving this console, as `make run` and the container start it.

Behind a reverse proxy (``PROXY_HEADERS``, on by default when
``SECURE_PROXY_SSL_HEADER`` is set) daphne takes the client's address and
scheme from X-Forwarded-For / X-Forwarded-Proto, so the login limits and the
request log see the real client and Django knows the request came over TLS.
Never on a console reachable directly: any client could then claim any address.
daphne pings a WebSocket silent for WEBSOCKET_HEARTBEAT_INTERVAL and closes it when
the ping is not answered within as long again (monitoring/consumers.py sends the
seed's JSON heartbeat frames on the same interval).
"""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand


def daphne_argv(host: str | None = None, port: int | None = None) -> list[str]:
    """The daphne command line for this console's settings."""
    argv = [sys.executable, "-m", "daphne", "-b", host or settings.HOST, "-p", str(port or settings.PORT)]
    # a socket silent for one heartbeat interval is pinged, and closed when the ping is not answered
    # within another: any frame or pong is an answer (browsers and wscat pong by themselves)
    interval = str(settings.WEBSOCKET_HEARTBEAT_INTERVAL)
    argv += ["--ping-interval", interval, "--ping-timeout", interval]
    if settings.PROXY_HEADERS:
        argv.append("--proxy-headers")
    return [*argv, "config.asgi:application"]


class Command(BaseCommand):
    help = "Serve the console with daphne (HTTP and WebSockets) on HOST:PORT; proxy headers when PROXY_HEADERS."

    def add_arguments(self, parser):
        parser.add_argument("--host", help="address to bind (default: HOST)")
        parser.add_argument("--port", type=int, help="port (default: PORT)")
        parser.add_argument(
            "--print", dest="show", action="store_true", help="print the daphne command instead of running it"
        )

    def handle(self, *args, host=None, port=None, show=False, **options):
        argv = daphne_argv(host, port)
        if show:
            self.stdout.write(" ".join(argv))
            return
        os.execv(argv[0], argv)  # noqa: S606 (our own interpreter, our own arguments)
