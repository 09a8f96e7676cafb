"""Password guessing on the login pages (the console's and the admin's), limited per address and per username.

Failed logins are counted in the cache (Redis) over a one-minute window, under
the caller's address and under the username tried. Once either count reaches its
limit, a POST to a login page answers 429 with Retry-After before the password
is even checked: a guesser spreading over many addresses still meets the
per-username limit, and one address trying many usernames meets the per-address
one. A successful login does not count. With Redis down, logins go on unlimited
(a login page that refuses everyone would be the worse outage), and it is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60


def _keys(request: HttpRequest, username: str) -> list[tuple[str, int]]:
    keys = []
    if settings.LOGIN_RATE_LIMIT_PER_MINUTE > 0:
        keys.append((f"login:fail:addr:{request.META.get('REMOTE_ADDR', '')}", settings.LOGIN_RATE_LIMIT_PER_MINUTE))
    if username and settings.LOGIN_USERNAME_RATE_LIMIT_PER_MINUTE > 0:
        keys.append(
            (f"login:fail:user:{username.strip().lower()[:150]}", settings.LOGIN_USERNAME_RATE_LIMIT_PER_MINUTE)
        )
    return keys


def login_paths() -> set[str]:
    paths = set()
    for name in ("dashboards:login", "admin:login"):
        try:
            paths.add(reverse(name))
        except NoReverseMatch:
            continue
    return paths


class LoginRateLimit:
    """Middleware: a POST to a login page over either limit gets 429 before authentication runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.paths: set[str] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            if self.paths is None:
                self.paths = login_paths()
            if request.path in self.paths and over_limit(request, request.POST.get("username", "")):
                response = HttpResponse(
                    "Too many failed logins; try again in a minute.\n", status=429, content_type="text/plain"
                )
                response["Retry-After"] = str(WINDOW_SECONDS)
                return response
        return self.get_response(request)


def over_limit(request: HttpRequest, username: str) -> bool:
    keys = _keys(request, username)
    if not keys:
        return False
    try:
        counts = cache.get_many([key for key, _ in keys])
    except Exception:  # Redis down: see the module's docstring
        log.warning("login rate limit unavailable (cache down); login allowed", exc_info=True)
        return False
    return any(counts.get(key, 0) >= limit for key, limit in keys)


@receiver(user_login_failed, dispatch_uid="config.login_limits.count_failure")
def count_failure(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    if request is None:
        return
    for key, _ in _keys(request, str(credentials.get("username") or "")):
        try:
            if cache.add(key, 1, timeout=WINDOW_SECONDS):
                continue
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=WINDOW_SECONDS)
        except Exception:
            log.warning("login rate limit unavailable (cache down); failure not counted", exc_info=True)
            return
