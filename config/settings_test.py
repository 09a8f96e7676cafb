"""Settings for the test suite: the same settings, on a data folder of its own."""

import os

os.environ.setdefault("DATA_DIR", ".data/test")
# DEBUG is off by default; the suite runs as development does (pytest-django still runs views with DEBUG off)
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("EMBEDDED_POSTGRES_FAST", "true")
os.environ.setdefault("AGENT_RATE_LIMIT_PER_MINUTE", "0")
# The seeds' example bodies the tests post are dated 2024-2025: keep them writable. Tests of the
# raw retention window set RAW_RETENTION_DAYS themselves.
os.environ.setdefault("RAW_RETENTION_DAYS", "3650")

from config.settings import *  # noqa: E402,F403
