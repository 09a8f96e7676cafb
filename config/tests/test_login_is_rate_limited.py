"""Password guessing on the login pages meets a limit per address and per username (429 with Retry-After)."""

import pytest
from django.core.cache import cache

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_RATE_LIMIT_PER_MINUTE = 5
    settings.LOGIN_USERNAME_RATE_LIMIT_PER_MINUTE = 3
    cache.delete_many([f"login:fail:addr:{a}" for a in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.9")])
    cache.delete_many([f"login:fail:user:{u}" for u in ("bob", "carol", "alice", "u0", "u1", "u2", "u3", "u4")])


def _login(client, username, password, address, path="/console/login"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_guessing_one_person_s_password_meets_the_username_limit(client, bob):
    for i, address in enumerate(["10.0.0.1", "10.0.0.2", "10.0.0.3"]):
        assert _login(client, "bob", f"guess-{i}", address).status_code == 200  # the form again

    refused = _login(client, "bob", "bob-password-1", "10.0.0.9")  # the right one, from elsewhere

    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    assert "_auth_user_id" not in client.session


def test_one_address_trying_many_usernames_meets_the_address_limit(client, bob):
    for i in range(5):
        _login(client, f"u{i}", "guess", "10.0.0.1")

    assert _login(client, "bob", "bob-password-1", "10.0.0.1").status_code == 429
    assert _login(client, "bob", "bob-password-1", "10.0.0.2").status_code == 302  # another address gets in


def test_the_admin_login_is_limited_too(client, alice):
    for i in range(3):
        _login(client, "alice", f"guess-{i}", "10.0.0.1", path="/admin/login/")

    assert _login(client, "alice", "alice-password-1", "10.0.0.2", path="/admin/login/").status_code == 429


def test_successful_logins_do_not_count(client, bob):
    for _ in range(5):
        assert _login(client, "bob", "bob-password-1", "10.0.0.1").status_code == 302
        client.logout()
