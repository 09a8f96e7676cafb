"""Shared test fixtures: named people, tokens, clients, a real Celery worker, and the console under daphne.

Writing samples and logs and waiting with a deadline: config/tests/fixtures.py (``write_samples`` is
also a fixture here).

The suite runs against the real PostgreSQL and Redis of config/embedded.py
(DATA_DIR=.data/test, see config/settings_test.py), or the ones named by
DATABASE_URL / REDIS_URL.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from config import embedded
from config.tests import fixtures

_started_here: list[str] = []


def pytest_configure(config):
    # settings_test started the embedded services if they were not running;
    # remember whether this session owns them, to stop them at the end.
    if settings.EMBEDDED_DATABASE and not getattr(config, "workerinput", None):
        _started_here.append("owner")


def pytest_sessionfinish(session, exitstatus):
    if _started_here and not getattr(session.config, "workerinput", None):
        import os

        if os.environ.get("KEEP_TEST_SERVICES") != "1":
            embedded.stop_all(settings.DATA_DIR)


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """In-process caches must not carry ids across tests whose data was rolled back."""
    from monitoring import partitions, storage
    from servers import registry
    from servers.auth import token_cache

    storage.series_cache.clear()
    partitions.forget()
    token_cache.clear()
    registry.forget()
    yield
    # each test's sockets run on an event loop of their own: a channel layer whose receive was
    # cancelled mid-way (a test timing out) keeps a lock bound to that dead loop, and would fail
    # every later test's socket with "bound to a different event loop"; the next test gets a new one
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _clean_unmanaged_tables(request, django_db_blocker):
    """After a transactional test (fixture or ``django_db(transaction=True)``), empty the tables Django's
    flush does not know.

    Django flushes only managed models' tables; samples, log entries, events and
    the other tables created with RunSQL would otherwise leak into later tests.
    """
    yield
    if not fixtures.is_transactional(request.node.get_closest_marker("django_db"), request.fixturenames):
        return
    from django.db import connection

    with django_db_blocker.unblock():
        managed = set(connection.introspection.django_table_names(only_existing=True, include_views=False))
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                """
            )
            tables = [name for (name,) in cursor.fetchall() if name not in managed and name != "django_migrations"]
            if tables:
                cursor.execute("TRUNCATE " + ", ".join(f'"{name}"' for name in tables))


@pytest.fixture
def alice(django_user_model):
    """An admin."""
    return django_user_model.objects.create_superuser("alice", "alice@example.com", "alice-password-1")


@pytest.fixture
def bob(django_user_model):
    """A team member without admin rights."""
    return django_user_model.objects.create_user("bob", "bob@example.com", "bob-password-1")


ON_CALL_PERMISSIONS = ["alerts.add_silence", "alerts.change_silence", "alerts.delete_silence", "servers.change_server"]


@pytest.fixture
def carol(django_user_model):
    """A team member on call: no admin rights, but in the group "on-call" that may silence alerts and
    change servers (maintenance windows, active), as an admin grants it in the admin."""
    from django.contrib.auth.models import Group, Permission

    on_call = Group.objects.create(name="on-call")
    for perm in ON_CALL_PERMISSIONS:
        app, codename = perm.split(".")
        on_call.permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    user = django_user_model.objects.create_user("carol", "carol@example.com", "carol-password-1")
    user.groups.add(on_call)
    return user


@pytest.fixture
def carol_api(carol):
    """A DRF client speaking as carol with her API token."""
    from rest_framework.test import APIClient

    from servers.models import AgentToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AgentToken.issue('user', user=carol)[1]}")
    return client


@pytest.fixture
def bob_token(bob):
    from servers.models import AgentToken

    return AgentToken.issue("user", user=bob)[1]


@pytest.fixture
def api(bob_token):
    """A DRF client speaking as bob with his API token."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {bob_token}")
    return client


@pytest.fixture
def web01(db):
    from servers.models import Server

    return Server.objects.create(
        hostname="web-01", environment="production", owner_team="devops", labels={"role": "web"}
    )


@pytest.fixture
def web02(db):
    """A second web server, in staging."""
    from servers.models import Server

    return Server.objects.create(hostname="web-02", environment="staging", labels={"role": "web"})


@pytest.fixture
def db01(db):
    from servers.models import Server

    return Server.objects.create(hostname="db-01", labels={"role": "db"})


@pytest.fixture
def db02(db):
    from servers.models import Server

    return Server.objects.create(hostname="db-02", environment="production", labels={"role": "db"})


@pytest.fixture
def agent_token(web01):
    """An agent token that writes for web-01."""
    from servers.models import AgentToken

    return AgentToken.issue("agent", server=web01)[1]


@pytest.fixture
def fleet_token(db):
    from servers.models import AgentToken

    return AgentToken.issue("fleet")[1]


@pytest.fixture
def agent(client, agent_token):
    """A Django test client speaking as web-01's agent."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {agent_token}"
    return client


@pytest.fixture
def write_samples():
    """write_samples(server, [(metric_type, name, labels, ts, value), ...]) through the one write path."""
    return fixtures.write_samples


@pytest.fixture
def celery_worker_live(transactional_db):
    """A real Celery worker (threads, real Redis broker) consuming this test's tasks.

    Tests using it see committed data only: they run with transactional_db.
    """
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    app.conf.task_always_eager = False
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, loglevel="WARNING") as worker:
        yield worker


def console_env(**settings_overrides: str) -> dict:
    """The environment of a console started by a test: this test's (committed) database and Redis."""
    import os

    from django.db import connection

    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "AGENT_RATE_LIMIT_PER_MINUTE": "0",
        **settings_overrides,
    }


@pytest.fixture
def start_console(transactional_db, tmp_path):
    """start_console(**settings) -> a started bench.harness.Daphne on this test's database; all stop after the test.

    ``log_path`` and ``host`` (e.g. "localhost" for a browser) go to Daphne; anything else is a setting.
    """
    from django.db import connections

    from bench.harness import Daphne

    started: list[Daphne] = []

    def start(*, log_path=None, host: str = "127.0.0.1", **settings_overrides: str) -> Daphne:
        console = Daphne(
            console_env(**settings_overrides), log_path=log_path or tmp_path / f"daphne-{len(started)}.log", host=host
        )
        started.append(console)
        console.start(timeout=30)
        return console

    yield start
    for console in started:
        console.stop()
    connections.close_all()


@pytest.fixture
def daphne_console(start_console) -> str:
    """The console under a real daphne on a free loopback port, on this test's (committed) database."""
    return start_console().url
