"""A person types a console URL with or without its trailing slash and lands on the page."""

import pytest

pytestmark = pytest.mark.django_db

PAGES = [
    "/console/",
    "/console/alerts",
    "/console/logs",
    "/console/services",
    "/console/events",
    "/console/servers/add",
    "/console/login",
    "/admin/",
]


def _other_form(path: str) -> str:
    return path[:-1] if path.endswith("/") else path + "/"


@pytest.mark.parametrize("canonical", PAGES)
def test_the_other_form_redirects_to_the_page(client, alice, canonical):
    client.force_login(alice)

    response = client.get(_other_form(canonical))

    assert response.status_code == 301
    assert response["Location"] == canonical
    assert client.get(canonical, follow=True).status_code == 200


def test_a_server_page_with_a_slash_redirects_to_it(client, alice, web01):
    client.force_login(alice)

    response = client.get(f"/console/servers/{web01.pk}/", {"range": "6h"})

    assert response.status_code == 301
    assert response["Location"] == f"/console/servers/{web01.pk}?range=6h"
    assert client.get(response["Location"]).status_code == 200


def test_a_page_that_does_not_exist_stays_a_404(client, alice):
    client.force_login(alice)

    assert client.get("/console/nowhere/").status_code == 404
    assert client.get("/console/nowhere").status_code == 404


def test_a_post_is_never_redirected(client, alice):
    client.force_login(alice)

    assert client.post("/console/logs/").status_code == 404


def test_an_api_404_for_an_unknown_object_is_not_redirected(api):
    assert api.get("/api/v1/servers/6f1c1d1e-0000-4000-8000-000000000000").status_code == 404
