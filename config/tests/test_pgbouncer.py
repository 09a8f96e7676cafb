"""The ingest, query and alerting tests pass with PostgreSQL behind a real PgBouncer in transaction pooling.

The test starts Debian's ``pgbouncer`` in front of the test session's
PostgreSQL (every database, transaction pooling, no prepared statements, as
PgBouncer 1.18 has none in that mode), then runs those tests in a pytest of
their own with DATABASE_URL pointing at PgBouncer and
DATABASE_TRANSACTION_POOLING on. Skipped with a message where PgBouncer is
missing (CI's .ci/run installs it).
"""

import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from bench.harness import free_port
from config.embedded import EmbeddedPostgres

pytestmark = pytest.mark.slow

PGBOUNCER = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
DATABASE = "monitoring_pgbouncer"  # its test database, test_monitoring_pgbouncer, is not this session's
# the tests of what touches the database: every write path (COPY, receipts, series upsert), the
# queries, roll-ups, rule evaluation, the alert lifecycle and deliveries (a subset: every helper's
# full suite runs this, on two shared cores)
SUITES = [
    "ingest/tests/test_ingest_seed000.py",
    "ingest/tests/test_ingest_seed001.py",
    "ingest/tests/test_ingest_seed002.py",
    "ingest/tests/test_ingest_retry.py",
    "ingest/tests/test_duplicates_never_drop_new_data.py",
    "ingest/tests/test_receive_prometheus.py",
    "ingest/tests/test_stream_logs_seed004.py",
    "ingest/tests/test_one_identity_per_host.py",
    "monitoring/tests/test_query_metrics.py",
    "monitoring/tests/test_query_with_promql.py",
    "monitoring/tests/test_rollups.py",
    "monitoring/tests/test_rollups_concurrency.py",
    "alerts/tests/test_rule_evaluation.py",
    "alerts/tests/test_alert_lifecycle.py",
    "alerts/tests/test_notifications_arrive.py",
    "alerts/tests/test_rules_over_compacted_days.py",
]


def _bouncer_config(folder: Path, pg_host: str, pg_port: int, port: int) -> Path:
    (folder / "userlist.txt").write_text('"postgres" ""\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        f"""
[databases]
* = host={pg_host} port={pg_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "userlist.txt"}
pool_mode = transaction
max_client_conn = 500
default_pool_size = 40
ignore_startup_parameters = extra_float_digits,options
logfile = {folder / "pgbouncer.log"}
pidfile = {folder / "pgbouncer.pid"}
"""
    )
    return ini


@pytest.fixture
def pgbouncer(tmp_path_factory):
    """A PgBouncer on a free port in front of this session's PostgreSQL; its port."""
    if not PGBOUNCER:
        pytest.skip("PgBouncer is not installed here (apt-get install pgbouncer; CI's .ci/run installs it)")
    db = connection.settings_dict
    _drop_test_database(db)  # left by a run that was stopped
    folder = tmp_path_factory.mktemp("pgbouncer")
    port = free_port()
    ini = _bouncer_config(folder, db["HOST"] or "127.0.0.1", int(db["PORT"]), port)
    # -q: its log goes to the logfile only (an unread pipe would fill up and freeze it)
    command = [PGBOUNCER, "-q", str(ini)]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        user = EmbeddedPostgres.SYSTEM_USER
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", user], check=True)
        for path in [folder, *folder.parents]:
            path.chmod(path.stat().st_mode | 0o011)
        shutil.chown(folder, user)
        for item in folder.iterdir():
            shutil.chown(item, user)
        command = [PGBOUNCER, "-q", "-u", user, str(ini)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=1) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (folder / "pgbouncer.log").read_text() if (folder / "pgbouncer.log").exists() else ""
                    raise RuntimeError(f"pgbouncer did not start: {log[-2000:]}")
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(10)
        _drop_test_database(db)


def _drop_test_database(db: dict) -> None:
    url = f"postgresql://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/postgres"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "test_{DATABASE}" WITH (FORCE)')


def test_ingest_query_and_alerting_tests_pass_through_pgbouncer(pgbouncer):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{pgbouncer}/{DATABASE}",
        "DATABASE_TRANSACTION_POOLING": "true",
        "REDIS_URL": settings.REDIS_URL,
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "--reuse-db",
         "-m", "not slow and not browser", *SUITES],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary
