"""A service's continuous log stream runs too long, goes quiet, or outlives the database:
the console ends it, says why, and keeps what it stored."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import ApplicationCommunicator
from django.db import connection

from config.asgi import application
from ingest.tests.conftest import free_port
from ingest.tests.test_stream_logs_continuously import count_logs, line, response_of, scope_for, service  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_stream_past_its_byte_cap_is_cut_and_keeps_what_fitted(fleet_token, service, settings):  # noqa: F811
    settings.INGEST_STREAM_MAX_BYTES = len(line("a")) * 3

    async def scenario():
        communicator = ApplicationCommunicator(application, scope_for(service, fleet_token))
        await communicator.send_input({"type": "http.request", "body": line("a") * 2, "more_body": True})
        await communicator.send_input({"type": "http.request", "body": line("a") * 5, "more_body": True})
        return await response_of(communicator)

    status, summary = async_to_sync(scenario)()
    assert status == 413
    assert summary["status"] == "cut"
    assert "INGEST_STREAM_MAX_BYTES" in summary["detail"]
    assert summary["logs_stored"] == 3


def test_a_quiet_stream_is_closed_after_its_idle_time(fleet_token, service, settings):  # noqa: F811
    settings.INGEST_STREAM_IDLE_SECONDS = 1

    async def scenario():
        communicator = ApplicationCommunicator(application, scope_for(service, fleet_token))
        await communicator.send_input({"type": "http.request", "body": line("only"), "more_body": True})
        return await response_of(communicator)  # no more bytes: the console ends it

    status, summary = async_to_sync(scenario)()
    assert status == 408
    assert "INGEST_STREAM_IDLE_SECONDS" in summary["detail"]
    assert summary["logs_stored"] == 1


def _database_goes_away() -> dict:
    """As PostgreSQL stopping does: every session cut, no new one accepted. Answers what to restore.

    Run in the thread that writes the stream's lines, so its own connection goes too (behind
    PgBouncer, cutting the server's sessions alone would not reach the client's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    connection.close()
    saved = dict(connection.settings_dict)
    connection.settings_dict.update(HOST="127.0.0.1", PORT=free_port())  # shared by every thread's connection
    return saved


def _database_comes_back(saved: dict) -> None:
    connection.close()
    connection.settings_dict.update(saved)


def test_a_stream_answers_503_at_its_first_storage_failure(fleet_token, service):  # noqa: F811
    async def until_stored(count):
        for _ in range(50):
            if await count_logs(service) >= count:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{count} lines not stored")

    async def scenario():
        communicator = ApplicationCommunicator(application, scope_for(service, fleet_token))
        await communicator.send_input({"type": "http.request", "body": line("stored"), "more_body": True})
        await until_stored(1)
        saved = await database_sync_to_async(_database_goes_away)()
        try:
            await communicator.send_input({"type": "http.request", "body": line("lost"), "more_body": True})
            return await response_of(communicator)  # answered while the body is still open
        finally:
            await database_sync_to_async(_database_comes_back)(saved)

    status, summary = async_to_sync(scenario)()
    assert status == 503
    assert summary["status"] == "interrupted"
    assert summary["logs_stored"] == 1
