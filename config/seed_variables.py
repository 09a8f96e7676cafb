"""The seed backends' environment variables: which ones the console honours, and which change nothing.

A team moving from a seed keeps its ``.env``. Variables we understand are read
in config/settings.py (``POSTGRES_DSN`` as DATABASE_URL, ``REDIS_HOST`` /
``REDIS_PORT`` / ``REDIS_DB`` as REDIS_URL, ``LOG_FILE``, ...); the ones that
would silently change nothing are named here with the reason, and every
process says so in its log at start-up (docs/seeds.md lists them too).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger("config.seeds")

# name -> why setting it changes nothing here
NOT_APPLICABLE: dict[str, str] = {
    "GIN_MODE": "seed 001's Gin framework mode; the console's debug mode is DEBUG",
    "ENVIRONMENT": "seed 004's development/production switch; the console's is DEBUG",
    "POSTGRES_TABLE": "seed 002's snapshot table; the console keeps samples in its own partitioned tables",
    "AGNO_API_KEY": "seed 004's Agno agent key; the console asks Groq directly (GROQ_API_KEY)",
    "LOG_STORAGE_PATH": "seed 004's log folder; the console keeps logs in PostgreSQL",
    "OUTPUT_STORAGE_PATH": "seed 004's classifier output folder; classifications are stored with the templates",
    "MAX_LOG_ENTRIES": "seed 003's in-memory cap; the console keeps events by age in day partitions "
    "(POST /api/v1/monitoring/maintenance/cleanup, RAW_RETENTION_DAYS)",
}

SEED002_REDIS_SIDE = ("REDIS_METRICS_CHANNEL", "REDIS_METRICS_KEY", "REDIS_ALERTS_CHANNEL", "REDIS_ALERTS_KEY")


def ignored(
    environ: Mapping[str, str],
    *,
    redis_url_set: bool,
    database_url_set: bool,
    redis_compat: bool,
    defined: Collection[str] = (),
) -> dict:
    """The seed variables set in ``environ`` that change nothing, with the reason for each.

    A name among ``defined`` (the settings the console reads) is honoured, whatever NOT_APPLICABLE says.
    """
    found = {name: reason for name, reason in NOT_APPLICABLE.items() if environ.get(name) and name not in defined}
    if database_url_set and environ.get("POSTGRES_DSN"):
        found["POSTGRES_DSN"] = "DATABASE_URL is set and wins"
    if redis_url_set:
        for name in ("REDIS_HOST", "REDIS_PORT", "REDIS_DB"):
            if environ.get(name):
                found[name] = "REDIS_URL is set and wins"
    if not redis_compat:
        for name in SEED002_REDIS_SIDE:
            if environ.get(name):
                found[name] = "seed 002's Redis side is published only with SEED002_REDIS_COMPAT=true"
    return found


def redis_url_from_parts(environ: Mapping[str, str]) -> str:
    """Seed 002's REDIS_HOST / REDIS_PORT / REDIS_DB as a URL (their defaults as seed 002 had them), or ''."""
    if not any(environ.get(name) for name in ("REDIS_HOST", "REDIS_PORT", "REDIS_DB")):
        return ""
    host = environ.get("REDIS_HOST") or "localhost"
    port = (environ.get("REDIS_PORT") or "6379").strip()
    db = (environ.get("REDIS_DB") or "0").strip()
    for name, value in (("REDIS_PORT", port), ("REDIS_DB", db)):
        if not value.isdigit():
            raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"redis://{host}:{port}/{db}"


def report(found: Mapping[str, str]) -> None:
    """Say, once per process, which seed variables change nothing."""
    for name, reason in sorted(found.items()):
        log.warning("%s is set but ignored: %s (see docs/seeds.md)", name, reason)
