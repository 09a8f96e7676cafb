"""Redis dies, PostgreSQL restarts and a Celery worker is SIGKILLed while four agents post.

Runs bench/faults.py, which starts a console of its own (daphne, worker, beat, its own
PostgreSQL and Redis) and does the faults with real processes; it exits 1 when a promise is
broken: an acknowledged sample lost or stored twice, a 5xx other than 503, /health not
recovering, WebSockets not getting frames within 10 s of Redis's return, ingest not 2xx
within 20 s of PostgreSQL's return, or the CPU rule not firing after a worker was killed.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.slow


def test_nothing_acknowledged_is_lost_or_doubled_through_redis_postgres_and_worker_faults(tmp_path):
    run = subprocess.run(
        [sys.executable, "bench/faults.py", "--data-dir", str(tmp_path / "faults"), "--redis-down", "5",
         "--postgres-down", "5"],
        cwd=Path(settings.BASE_DIR), capture_output=True, text=True, timeout=600,
    )  # fmt: skip

    report = run.stdout + run.stderr[-3000:]
    assert run.returncode == 0, report
    assert "lost: 0\n" in run.stdout and "doubled: 0\n" in run.stdout, report
    acknowledged = int(run.stdout.split("acknowledged: ")[1].split()[0])
    assert acknowledged > 100, report
