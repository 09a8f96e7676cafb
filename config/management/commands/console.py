"""``make run``: migrate, make sure an admin exists, then run web, worker and beat together."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from config import embedded
from config.management.commands.web import daphne_argv
from servers import enrolment

COLOURS = {"web": "36", "worker": "35", "beat": "33", "agent": "32"}
# children whose exit is reported but does not stop the console
OPTIONAL = {"agent"}


def ensure_admin() -> tuple[str, str | None]:
    """The admin user; answers (username, password) with the password only when it was just set."""
    User = get_user_model()
    user = User.objects.filter(username=settings.ADMIN_USER).first()
    if user is None:
        password = settings.ADMIN_PASSWORD or secrets.token_urlsafe(12)
        User.objects.create_superuser(settings.ADMIN_USER, "", password)
        return settings.ADMIN_USER, password
    if settings.ADMIN_PASSWORD and not user.check_password(settings.ADMIN_PASSWORD):
        user.set_password(settings.ADMIN_PASSWORD)
        user.save(update_fields=["password"])
        return settings.ADMIN_USER, settings.ADMIN_PASSWORD
    return settings.ADMIN_USER, None


def ensure_first_agent_token() -> tuple[str, str] | None:
    """On the first run, an agent token for this machine, to be shown once; None once it exists.

    With SELF_MONITOR on it is the bundled agent's own token (kept in DATA_DIR/self-monitor.token),
    issued here rather than by the agent's process so that the banner can show it.
    """
    from servers.choices import TokenKind
    from servers.models import AgentToken, Server

    if settings.SELF_MONITOR:
        hostname = enrolment.self_monitor_hostname()
        path = settings.DATA_DIR / "self-monitor.token"
        before = path.read_text().strip() if path.exists() else None
        raw = enrolment.self_monitor_token(hostname, path)
        return None if raw == before else (hostname, raw)
    if AgentToken.objects.filter(kind=TokenKind.AGENT).exists():
        return None
    hostname = socket.gethostname() or "localhost"
    server, _ = Server.objects.get_or_create(hostname=hostname)
    _, raw = AgentToken.issue(TokenKind.AGENT, server=server, name="first run")
    return hostname, raw


class Command(BaseCommand):
    help = "Run the whole console in the foreground: daphne, a Celery worker and Celery beat."

    def add_arguments(self, parser):
        parser.add_argument("--no-worker", action="store_true")
        parser.add_argument("--keep-services", action="store_true", help="leave embedded services running on exit")

    def handle(self, *args, no_worker=False, keep_services=False, **options):
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database migrated")
        user, password = ensure_admin()
        token = ensure_first_agent_token()
        self._banner(user, password, token)

        python = sys.executable
        commands = {
            "web": daphne_argv(),
        }
        if not no_worker:
            commands["worker"] = [python, "-m", "celery", "-A", "config", "worker", "-l", "info", "-c", "2"]
            commands["beat"] = [
                python, "-m", "celery", "-A", "config", "beat", "-l", "info",
                "-s", str(settings.DATA_DIR / "celerybeat-schedule"),
            ]  # fmt: skip
        if settings.SELF_MONITOR:
            commands["agent"] = [python, "manage.py", "self_monitor"]
        self._supervise(commands, keep_services)

    def _banner(self, user: str, password: str | None, token: tuple[str, str] | None) -> None:
        url = f"http://{settings.HOST}:{settings.PORT}"
        lines = [
            "",
            f"  Monitoring console   {url}",
            f"  Admin                {url}/admin/   user: {user}",
            f"  Admin password       {password}   (shown once)"
            if password
            else "  Admin password       (set at the first run; ADMIN_PASSWORD=... make run resets it)",
        ]
        if settings.SELF_MONITOR:
            lines.append(f"  This machine         reported by the bundled agent as {enrolment.self_monitor_hostname()}")
        if token:
            lines += [f"  Agent token for {token[0]} (shown once):", f"    {token[1]}"]
            if settings.SELF_MONITOR:
                lines.append("  (the bundled agent uses it for this machine; kept in DATA_DIR/self-monitor.token)")
            else:
                lines.append(
                    f"  Run the agent        python3 -S servers/agent/monitoring_agent.py --url {url} --token TOKEN"
                )
        lines += [
            f"  Add a host           {url}/console/servers/add  (a token and the one-line install)",
            "",
        ]
        self.stdout.write("\n".join(lines))

    def _supervise(self, commands: dict[str, list[str]], keep_services: bool) -> None:
        children: dict[str, subprocess.Popen] = {}
        tty = sys.stdout.isatty()
        width = max(len(n) for n in commands)
        stopping = threading.Event()

        def pump(name: str, proc: subprocess.Popen) -> None:
            label = f"{name:<{width}} | "
            if tty:
                label = f"\033[{COLOURS.get(name, '0')}m{label}\033[0m"
            assert proc.stdout is not None  # started with stdout=PIPE
            for line in iter(proc.stdout.readline, b""):
                sys.stdout.write(label + line.decode(errors="replace"))
                sys.stdout.flush()

        env = dict(os.environ, PYTHONUNBUFFERED="1", DATABASE_URL=settings.DATABASE_URL, REDIS_URL=settings.REDIS_URL)
        for name, argv in commands.items():
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
            children[name] = proc
            threading.Thread(target=pump, args=(name, proc), daemon=True).start()

        def request_stop(signum, frame):
            stopping.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        exit_code = 0
        while not stopping.is_set():
            for name, proc in list(children.items()):
                if proc.poll() is not None and name in OPTIONAL:
                    self.stderr.write(f"{name} exited with {proc.returncode}; the console keeps running")
                    del children[name]
                elif proc.poll() is not None:
                    self.stderr.write(f"{name} exited with {proc.returncode}; stopping the console")
                    exit_code = proc.returncode or 1
                    stopping.set()
                    break
            stopping.wait(0.5)

        self.stdout.write("stopping web, worker and beat…")
        for proc in children.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 15
        for proc in children.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        if not keep_services:
            stopped = []
            if settings.EMBEDDED_REDIS and embedded.EmbeddedRedis(settings.DATA_DIR).stop():
                stopped.append("redis")
            if settings.EMBEDDED_DATABASE and embedded.EmbeddedPostgres(settings.DATA_DIR).stop():
                stopped.append("postgres")
            if stopped:
                self.stdout.write(f"stopped embedded {', '.join(stopped)}")
        sys.exit(exit_code)
