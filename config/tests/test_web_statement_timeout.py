"""Web requests run under WEB_STATEMENT_TIMEOUT_MS, without persistent connections; a cut query is a 503."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError, connection, transaction
from django.test import RequestFactory

from config.api import exception_handler
from config.web_database import StatementTimeout

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def _cut_query() -> OperationalError:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 50")
            cursor.execute("SELECT pg_sleep(2)")
    except OperationalError as exc:
        return exc
    raise AssertionError("the query was not cut")


def test_the_web_process_connects_with_the_timeout_and_no_persistent_connections():
    from django.conf import settings

    code = (
        "import django, os; django.setup(); "
        "from config.web_database import configure_web_connections; configure_web_connections(); "
        "from django.db import connection; c = connection.cursor(); c.execute('SHOW statement_timeout'); "
        "print(c.fetchone()[0], connection.settings_dict['CONN_MAX_AGE'])"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "WEB_STATEMENT_TIMEOUT_MS": "1500",
           "DATABASE_URL": settings.DATABASE_URL, "REDIS_URL": settings.REDIS_URL}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1500ms", "0"]


def test_an_api_request_cut_by_the_timeout_is_a_503_with_retry_after():
    response = exception_handler(_cut_query(), {})

    assert response.status_code == 503 and response["Retry-After"] == "10"
    assert "WEB_STATEMENT_TIMEOUT_MS" in response.data["detail"]


def test_a_page_cut_by_the_timeout_is_a_503_not_a_500():
    middleware = StatementTimeout(lambda request: None)

    response = middleware.process_exception(RequestFactory().get("/console/"), _cut_query())

    assert response.status_code == 503 and response["Retry-After"] == "10"
