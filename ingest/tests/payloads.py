"""The seeds' own example bodies (the curl bodies of their READMEs): the same the OpenAPI schema shows."""

from ingest.examples import SEED000_FULL, SEED000_MINIMAL, SEED002_BODY, seed001_body

__all__ = ["SEED000_FULL", "SEED000_MINIMAL", "SEED002_BODY", "seed001_body"]
