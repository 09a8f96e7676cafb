"""A fuzzer (schemathesis) drives the whole API of a real console: never a 5xx, never an answer outside the schema.

``make fuzz`` runs it (CI too); the suite leaves it out (marker ``fuzz``).
The console is a real daphne on this test's database and Redis. The API is
fuzzed with a staff person's token, the ingest paths with a fleet token.
``FUZZ_EXAMPLES`` bounds the cases per operation (default 15).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from servers.models import AgentToken

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

# what "within its schema" means here: no 5xx, a documented status, content type and body
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def _schema(console_url: str, person_token: str, folder: Path) -> Path:
    """The console's schema, read with a person's token (an agent's or fleet token may not read the API)."""
    import requests

    response = requests.get(
        f"{console_url}/api/schema/", headers={"Authorization": f"Bearer {person_token}"}, timeout=30
    )
    response.raise_for_status()
    (folder / "schema.yaml").write_bytes(response.content)
    return folder / "schema.yaml"


def _fuzz(console_url: str, schema: Path, token: str, report: Path, *selection: str) -> subprocess.CompletedProcess:
    examples = os.environ.get("FUZZ_EXAMPLES", "15")
    st = Path(sys.executable).with_name("st")
    run = subprocess.run(
        [
            str(st),
            "run",
            str(schema),
            "--url",
            console_url,
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            CHECKS,
            "--max-examples",
            examples,
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "2",
            "--seed",
            os.environ.get("FUZZ_SEED", "14"),
            "--request-timeout",
            "30",
            "--generation-database",
            "none",
            "--suppress-health-check",
            "all",
            "--no-color",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
            *selection,
        ],
        capture_output=True,
        text=True,
        timeout=1500,
        cwd=ROOT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "config.tests.fuzz_hooks"},
    )
    report.with_suffix(".txt").write_text(run.stdout + run.stderr)  # the whole run, beside the JUnit report
    return run


# a production console: DEBUG off (no debug pages, no browsable API)
PRODUCTION = {"DEBUG": "false", "SECRET_KEY": "fuzz-" + "x" * 50, "GROQ_API_KEY": ""}


def test_the_fuzzed_api_never_answers_5xx_nor_outside_its_schema(start_console, alice, tmp_path):
    console = start_console(**PRODUCTION)
    staff = AgentToken.issue("user", user=alice)[1]

    api = _fuzz(
        console.url, _schema(console.url, staff, tmp_path), staff, tmp_path / "api.xml", "--exclude-tag", "ingest"
    )

    assert api.returncode == 0, api.stdout[-20000:] + api.stderr[-5000:]


def test_the_fuzzed_ingest_paths_never_answer_5xx_nor_outside_their_schema(start_console, alice, tmp_path):
    console = start_console(**PRODUCTION)
    schema = _schema(console.url, AgentToken.issue("user", user=alice)[1], tmp_path)
    fleet = AgentToken.issue("fleet")[1]

    ingest = _fuzz(console.url, schema, fleet, tmp_path / "ingest.xml", "--include-tag", "ingest")

    assert ingest.returncode == 0, ingest.stdout[-20000:] + ingest.stderr[-5000:]
