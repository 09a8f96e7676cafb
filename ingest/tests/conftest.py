"""Helpers the receiver tests share."""

import contextlib
import socket

import pytest
from django.db import connection


@contextlib.contextmanager
def _unreachable_database():
    """Point the connection at a loopback port nobody listens on: a real OperationalError."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=port)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.fixture
def unreachable_database():
    return _unreachable_database
