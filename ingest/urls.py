"""Ingest's URL patterns, from the one table of ingest routes (ingest/routes.py)."""

from ingest.routes import url_patterns

urlpatterns = url_patterns()
