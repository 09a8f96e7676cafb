"""States and kinds of the inventory, each with the colour the pages use."""

from django.db import models


class ServerKind(models.TextChoices):
    HOST = "host", "Host"
    SERVICE = "service", "Service"


class ServerStatus(models.TextChoices):
    UP = "up", "Up"
    STALE = "stale", "Stale"
    DOWN = "down", "Down"

    @property
    def colour(self) -> str:
        return {"up": "green", "stale": "orange", "down": "red"}[self.value]


class TokenKind(models.TextChoices):
    AGENT = "agent", "Agent (writes for one server)"
    FLEET = "fleet", "Fleet (writes, registers servers)"
    USER = "user", "Person (reads and manages)"
