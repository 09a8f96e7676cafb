"""The debug page (DEBUG on) shows no connection string and no NOTIFY_*/GROQ_* setting."""

import secrets
import sys

import pytest
from django.test import RequestFactory
from django.views.debug import technical_500_response

# random values: the page quotes this file's source around the failing line, so literals would show
PASSWORD = secrets.token_hex(8)
SECRETS = {
    "DATABASE_URL": f"postgres://console:{PASSWORD}@db.internal:5432/monitoring",
    "REDIS_URL": f"redis://:{PASSWORD}@cache.internal:6379/0",
    "CELERY_BROKER_URL": f"redis://:{PASSWORD}@cache.internal:6379/0",
    "CACHE_REDIS_URL": f"redis://:{PASSWORD}@cache.internal:6379/1",
    "CHANNEL_REDIS_URL": f"redis://:{PASSWORD}@cache.internal:6379/2",
    "NOTIFY_SLACK_WEBHOOK_URL": f"https://hooks.slack.com/services/T000/B000/{secrets.token_hex(8)}",
    "NOTIFY_WEBHOOK_URL": f"https://hooks.example.com/{secrets.token_hex(8)}",
    "NOTIFY_EMAIL_TO": [f"{secrets.token_hex(8)}@example.com"],
    "GROQ_BASE_URL": f"https://llm-gateway.internal/{secrets.token_hex(8)}",
    "GROQ_MODEL": secrets.token_hex(8),
}


def _fail(request):
    # a frame of its own: the page lists the failing frames' local variables, and this one holds no secret
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        return technical_500_response(request, *sys.exc_info()).content.decode()


@pytest.fixture
def debug_page(settings):
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    settings.DEBUG = True
    return _fail(RequestFactory().get("/boom"))


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_the_debug_page_hides(debug_page, name):
    value = SECRETS[name]
    shown = value[0] if isinstance(value, list) else value
    assert name in debug_page  # listed, masked
    assert shown not in debug_page
    assert PASSWORD not in debug_page
