"""Live sockets are capped per process and per person (closed with 1013 and a reason); origins never "*"."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from config.asgi import application
from servers.models import AgentToken

pytestmark = pytest.mark.django_db(transaction=True)


def _headers(token: str, origin: str = "http://localhost:8000") -> list:
    return [(b"origin", origin.encode()), (b"authorization", f"Bearer {token}".encode())]


async def _open(token: str, origin: str = "http://localhost:8000"):
    communicator = WebsocketCommunicator(application, "/api/ws/live?defaults=none", headers=_headers(token, origin))
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


async def _closed_with(communicator) -> dict:
    while True:
        message = await communicator.receive_output(timeout=5)
        if message["type"] == "websocket.close":
            return message


@pytest.fixture
def tokens(bob, alice):
    return AgentToken.issue("user", user=bob)[1], AgentToken.issue("user", user=alice)[1]


def test_a_person_over_their_cap_is_closed_with_1013_and_a_reason(tokens, settings):
    settings.MAX_WEBSOCKET_CONNECTIONS_PER_PERSON = 2
    bob_token, alice_token = tokens

    async def scenario():
        first, _ = await _open(bob_token)
        second, _ = await _open(bob_token)
        third, _ = await _open(bob_token)
        refused = await _closed_with(third)
        alice, _ = await _open(alice_token)  # another person still gets in
        greeting = await alice.receive_json_from(timeout=5)
        await first.disconnect()
        fourth, _ = await _open(bob_token)  # a closed socket frees its place
        again = await fourth.receive_json_from(timeout=5)
        for communicator in (second, alice, fourth):
            await communicator.disconnect()
        return refused, greeting, again

    refused, greeting, again = async_to_sync(scenario)()

    assert refused["code"] == 1013 and "MAX_WEBSOCKET_CONNECTIONS_PER_PERSON" in refused["reason"]
    assert greeting["type"] == "connected" and again["type"] == "connected"


def test_the_process_cap_closes_the_socket_over_it(tokens, settings):
    settings.MAX_WEBSOCKET_CONNECTIONS = 1
    bob_token, alice_token = tokens

    async def scenario():
        first, _ = await _open(bob_token)
        second, _ = await _open(alice_token)
        refused = await _closed_with(second)
        await first.disconnect()
        return refused

    refused = async_to_sync(scenario)()

    assert refused["code"] == 1013 and "maximum of 1 live connections" in refused["reason"]


def test_a_wildcard_origin_is_never_honoured(tokens, settings):
    settings.WS_ALLOWED_ORIGINS = ["*"]
    bob_token, _ = tokens

    async def scenario():
        _, connected = await _open(bob_token, origin="https://evil.example")
        return connected

    assert async_to_sync(scenario)() is False


def test_csrf_trusted_origins_may_open_streams(tokens, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://console.example.com"]
    bob_token, _ = tokens

    async def scenario():
        communicator, connected = await _open(bob_token, origin="https://console.example.com")
        await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)() is True
