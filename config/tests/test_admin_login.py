"""An admin logs in to Django admin with the credentials `make run` prints."""

import pytest
from django.core.management import call_command

from config.management.commands.console import ensure_admin


@pytest.mark.django_db
def test_admin_created_once_with_a_generated_password(client, settings):
    settings.ADMIN_PASSWORD = ""
    user, password = ensure_admin()
    assert user == "admin" and password and len(password) >= 12
    assert ensure_admin() == ("admin", None)  # shown once
    page = client.get("/admin/login/")
    assert b"Monitoring console" in page.content
    response = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": password})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_wrong_password_is_refused(client, settings):
    settings.ADMIN_PASSWORD = "right-password-123"
    ensure_admin()
    response = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": "wrong"})
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_issue_token_prints_the_token_last(capsys):
    call_command("issue_token", "db-01")
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("mca_")
    from servers.models import AgentToken

    assert AgentToken.find(out[-1]).server.hostname == "db-01"
