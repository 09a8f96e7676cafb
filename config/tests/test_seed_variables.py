"""A team moving from a seed backend keeps its .env: seed variables work, or the console says they do nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(env: dict, code: str) -> subprocess.CompletedProcess:
    prelude = "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings'); django.setup(); "
    prelude += "from django.conf import settings; "
    return subprocess.run(
        [sys.executable, "-c", prelude + code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90
    )


def _env(tmp_path, **extra) -> dict:
    from django.conf import settings

    dropped = {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "LOG_FILE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(DATA_DIR=str(tmp_path), DEBUG="true", DATABASE_URL=settings.DATABASE_URL, REDIS_URL=settings.REDIS_URL)
    env.update(extra)
    return env


def test_seed002_postgres_dsn_is_taken_as_the_database_url(tmp_path):
    from django.conf import settings

    env = _env(tmp_path)
    del env["DATABASE_URL"]
    env["POSTGRES_DSN"] = settings.DATABASE_URL
    result = _run(env, "from django.db import connection; connection.ensure_connection(); print(settings.DATABASE_URL)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == settings.DATABASE_URL
    assert "ignored" not in result.stderr


def test_seed002_redis_host_port_db_make_the_redis_url(tmp_path):
    from django.conf import settings
    from redis import Redis

    ours = Redis.from_url(settings.REDIS_URL)
    kwargs = ours.connection_pool.connection_kwargs
    env = _env(tmp_path, REDIS_HOST=kwargs["host"], REDIS_PORT=str(kwargs["port"]), REDIS_DB="3")
    del env["REDIS_URL"]
    result = _run(env, "from django.core.cache import cache; cache.set('seed002', 'ok'); print(settings.REDIS_URL)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"redis://{kwargs['host']}:{kwargs['port']}/3"
    db3 = Redis(host=kwargs["host"], port=kwargs["port"], db=3)
    assert any(b"seed002" in key for key in db3.keys("*seed002*"))
    db3.flushdb()


def test_a_bad_redis_port_is_refused_naming_it(tmp_path):
    env = _env(tmp_path, REDIS_HOST="localhost", REDIS_PORT="six")
    del env["REDIS_URL"]
    result = _run(env, "print(settings.REDIS_URL)")
    assert result.returncode != 0
    assert "REDIS_PORT must be an integer" in result.stderr


def test_seed_variables_that_change_nothing_are_reported_at_start_up(tmp_path):
    env = _env(
        tmp_path,
        GIN_MODE="release",
        AGNO_API_KEY="agno-secret",
        LOG_STORAGE_PATH="./logs",
        OUTPUT_STORAGE_PATH="./outputs",
        MAX_LOG_ENTRIES="10000",
        REDIS_HOST="redis.internal",  # REDIS_URL is set: it wins
        REDIS_METRICS_CHANNEL="metrics:live",  # SEED002_REDIS_COMPAT is off
    )
    result = _run(env, "import json; print(json.dumps(sorted(settings.IGNORED_SEED_VARIABLES)))")
    assert result.returncode == 0, result.stderr
    names = json.loads(result.stdout)
    assert names == sorted(
        [
            "AGNO_API_KEY",
            "GIN_MODE",
            "LOG_STORAGE_PATH",
            "MAX_LOG_ENTRIES",
            "OUTPUT_STORAGE_PATH",
            "REDIS_HOST",
            "REDIS_METRICS_CHANNEL",
        ]
    )
    for name in names:
        assert f"{name} is set but ignored" in result.stderr
    assert "REDIS_URL is set and wins" in result.stderr
    assert "agno-secret" not in result.stderr  # a value is never echoed


def test_nothing_is_reported_without_seed_variables(tmp_path):
    result = _run(_env(tmp_path), "print(settings.IGNORED_SEED_VARIABLES)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{}"
    assert "ignored" not in result.stderr


def test_seed003_log_file_receives_the_console_log(tmp_path):
    path = tmp_path / "logs" / "monitoring.log"
    env = _env(tmp_path, LOG_FILE=str(path))
    result = _run(env, "import logging; logging.getLogger('monitoring').warning('disk almost full')")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert any(line.get("message") == "disk almost full" for line in lines)


def test_seed002_postgres_retention_days_keeps_raw_history_that_long(tmp_path):
    env = _env(tmp_path, POSTGRES_RETENTION_DAYS="30")
    env.pop("RAW_RETENTION_DAYS", None)  # the test settings set it; a seed 002 .env would not
    result = _run(env, "print(settings.RAW_RETENTION_DAYS)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "30"


def test_a_seed_variable_the_console_reads_is_never_reported_as_ignored():
    from config.seed_variables import ignored

    env = {"MAX_WEBSOCKET_CONNECTIONS": "100", "GIN_MODE": "release"}
    found = ignored(
        env, redis_url_set=True, database_url_set=True, redis_compat=False, defined={"MAX_WEBSOCKET_CONNECTIONS"}
    )
    assert list(found) == ["GIN_MODE"]
