"""URLs people type: a page asked for with or without its trailing slash is redirected to its canonical form.

The console's pages are canonical without a trailing slash (``/console/logs``),
except where the route has one (``/console/``, ``/admin/``). Django's
APPEND_SLASH only adds a slash (and is off: the ingest paths answer both forms
themselves); this redirects either way, for GET and HEAD only, and only when the
other form is a route and the path asked for is none, so a view's own 404 (no such
server) stays a 404 and no POST body is lost.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.urls import Resolver404, resolve


def canonical_path(path: str) -> str | None:
    """The other form of ``path`` (slash added or removed) when it is a route, else None."""
    other = path[:-1] if path.endswith("/") else path + "/"
    if not other or other == path:
        return None
    try:
        resolve(other)
    except Resolver404:
        return None
    return other


class CanonicalSlashMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 404 or request.method not in ("GET", "HEAD"):
            return response
        if getattr(request, "resolver_match", None) is not None:  # a route answered 404 itself (no such object)
            return response
        other = canonical_path(request.path_info)
        if other is None:
            return response
        query = request.META.get("QUERY_STRING", "")
        target = request.META.get("SCRIPT_NAME", "").rstrip("/") + other
        return HttpResponsePermanentRedirect(f"{target}?{query}" if query else target)
