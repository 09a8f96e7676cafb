"""Run the bundled agent for the console's own host (``make run`` starts it; so can docker-compose)."""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from servers import enrolment


class Command(BaseCommand):
    help = "Report this machine to the console with the bundled agent (its token is kept under DATA_DIR)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="", help="the console's URL (default: CONSOLE_URL, else HOST:PORT)")
        parser.add_argument("--hostname", default="", help="default: SELF_MONITOR_HOSTNAME, else this machine's")

    def handle(self, *args, url="", hostname="", **options):
        hostname = hostname or enrolment.self_monitor_hostname()
        token_file = settings.DATA_DIR / "self-monitor.token"
        enrolment.self_monitor_token(hostname, token_file)
        argv = [
            sys.executable, "-S", str(enrolment.AGENT_FILE),
            "--url", url or enrolment.console_url(),
            "--token-file", str(token_file),
            "--hostname", hostname,
            "--interval", str(settings.SELF_MONITOR_INTERVAL),
        ]  # fmt: skip
        sys.stdout.flush()
        # the agent replaces this process: stdlib only (-S), as on any other host
        os.execv(sys.executable, argv)  # noqa: S606 (our own interpreter and file)
