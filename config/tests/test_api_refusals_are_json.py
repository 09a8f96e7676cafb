"""What the fuzzer found, kept: every refusal of the API is JSON in the one error shape, never a 500 or a page."""

import pytest

pytestmark = pytest.mark.django_db


def test_an_unknown_api_path_answers_json_404(api):
    response = api.get("/api/v1/servers/null,null")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("nothing at /api/v1/servers/")


def test_a_nul_character_in_a_query_is_a_400_not_a_500(api):
    response = api.get("/api/v1/logs", {"server": "web\x00-01", "q": "a\x00b"})

    assert response.status_code == 400
    assert "cannot hold" in response.json()["detail"] or response.json()["errors"]


def test_a_form_or_multipart_body_is_refused_with_415(api):
    response = api.post("/api/v1/annotations", {"text": "deploy"}, format="multipart")

    assert response.status_code == 415
    assert "detail" in response.json()
