"""The console's page furniture: ``{% state_colours %}`` gives every state badge its colour.

The colours are the choice classes' own (``AlertState.FIRING.colour`` ...), so
the pages, the admin and the API agree; a badge is ``class="badge state-firing"``
on the server and in console.js alike.
"""

from __future__ import annotations

import functools

from django import template
from django.db import models
from django.utils.safestring import SafeString, mark_safe

from alerts.choices import AlertState, DeliveryStatus, Severity
from monitoring.choices import Decision, EventStatus, LogLevel, LogSeverity, ServiceState
from servers.choices import ServerStatus

register = template.Library()

# the class prefix the pages use -> the choice class whose members' colours it shows
STATE_CLASSES: dict[str, type[models.TextChoices]] = {
    "status": ServerStatus,
    "sev": Severity,
    "state": AlertState,
    "ev": EventStatus,
    "svc": ServiceState,
    "del": DeliveryStatus,
    "lvl": LogLevel,
    "dec": Decision,
    "cls": LogSeverity,
}


@functools.cache
def colour_rules() -> str:
    """One CSS rule per state: ``.state-firing { --c: var(--red); }``."""
    return "\n".join(
        f".{prefix}-{member.value} {{ --c: var(--{member.colour}); }}"  # type: ignore[attr-defined]
        for prefix, choices in STATE_CLASSES.items()
        for member in choices
    )


@register.simple_tag
def state_colours() -> SafeString:
    return mark_safe(f"<style>\n{colour_rules()}\n</style>")  # noqa: S308  (built from our own choice classes)
