"""The embedded PostgreSQL and Redis start once, are reused, and stop cleanly."""

import psycopg
import pytest
import redis

from config import embedded

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("embedded")
    yield path
    embedded.stop_all(path)


def test_postgres_starts_is_reused_and_stops(data_dir):
    pg = embedded.EmbeddedPostgres(data_dir, fast=True)
    assert pg.port() is None
    url = pg.ensure_running()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "monitoring"
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (7)")
    # a second process (here: a second handle) finds it running and gets the same server
    assert embedded.EmbeddedPostgres(data_dir).ensure_running() == url
    assert pg.stop() is True
    assert pg.port() is None
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
    # started again, the data is still there
    url = pg.ensure_running()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT x FROM kept").fetchone()[0] == 7


def test_redis_starts_is_reused_and_stops(data_dir):
    rd = embedded.EmbeddedRedis(data_dir)
    url = rd.ensure_running()
    client = redis.Redis.from_url(url)
    assert client.ping() is True
    client.set("k", "v")
    assert embedded.EmbeddedRedis(data_dir).ensure_running() == url
    assert embedded.stop_all(data_dir) == ["redis"]
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
