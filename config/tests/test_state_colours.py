"""Every state badge the pages draw takes its colour from its choice class, and only from there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from config.templatetags.console import STATE_CLASSES

pytestmark = pytest.mark.django_db


def test_each_state_is_drawn_in_its_choice_classs_colour(client, bob):
    client.force_login(bob)
    page = client.get("/console/").content.decode()
    for prefix, choices in STATE_CLASSES.items():
        for member in choices:
            assert f".{prefix}-{member.value} {{ --c: var(--{member.colour}); }}" in page


def test_the_stylesheet_gives_no_state_a_colour_of_its_own():
    css = (Path(settings.BASE_DIR) / "static" / "console" / "console.css").read_text()
    states = [f"{prefix}-{member.value}" for prefix, choices in STATE_CLASSES.items() for member in choices]
    assert [state for state in states if re.search(rf"\.{state}\b", css)] == []
