"""Invalid input with the path of the offending field, raised by adapters at the edge."""

from __future__ import annotations


class BadInput(Exception):
    """A 400: the body can never be stored as sent. ``field`` is the path, e.g. ``metrics[3].value``."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message

    def as_dict(self) -> dict:
        return {"field": self.field, "message": self.message}


class Unavailable(Exception):
    """A 503: a dependency (the database) cannot take the request now; nothing was stored.
    Answered with Retry-After, the one code every agent retries."""

    retry_after = 5
