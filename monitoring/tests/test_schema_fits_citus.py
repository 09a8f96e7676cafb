"""The migrated schema has nothing Citus refuses for the distribution docs/scale-out.md gives.

The create_distributed_table / create_reference_table calls are read from the
docs, so the docs and this check cannot drift apart. Checked against the
catalog of the migrated test database: unique keys include the distribution
column, foreign keys point only at reference tables, no triggers, exclusion
constraints or identity columns on distributed tables; and no SQL of the
console relies on ctid.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
DOCS = ROOT / "docs" / "scale-out.md"
DISTRIBUTED = re.compile(r"create_distributed_table\('(\w+)', '(\w+)'")
REFERENCE = re.compile(r"create_reference_table\('(\w+)'\)")


def documented() -> tuple[dict[str, str], set[str]]:
    text = DOCS.read_text()
    return dict(DISTRIBUTED.findall(text)), set(REFERENCE.findall(text))


def rows(sql: str, params=()) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_the_docs_distribute_samples_and_rollups_by_series():
    distributed, reference = documented()
    assert distributed == {
        "monitoring_sample": "series_id",
        "monitoring_rollup1m": "series_id",
        "monitoring_rollup1h": "series_id",
        "monitoring_rollupdirty": "series_id",
        "monitoring_sample_chunk": "series_id",
    }
    assert {"monitoring_series", "servers_server"} <= reference


def test_every_unique_key_of_a_distributed_table_includes_its_column():
    distributed, _ = documented()
    for table, column in distributed.items():
        assert rows(
            "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s", [table, column]
        )
        unique = rows(
            """
            SELECT i.indexrelid::regclass::text, array_agg(a.attname::text)
            FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = %s::regclass AND (i.indisunique OR i.indisprimary)
            GROUP BY 1
            """,
            [table],
        )
        for index, columns in unique:
            assert column in columns, f"{index} on {table} leaves out {column}"


def test_distributed_tables_have_no_triggers_exclusions_or_identity_columns():
    distributed, _ = documented()
    for table in distributed:
        assert not rows("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [table])
        assert not rows("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'x'", [table])
        identity = "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND is_identity = 'YES'"
        assert not rows(identity, [table]), table


def test_foreign_keys_point_only_at_reference_tables():
    distributed, reference = documented()
    for table in [*distributed, *reference]:
        targets = rows(
            "SELECT confrelid::regclass::text FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        for (target,) in targets:
            assert target in reference, f"{table} references {target}, which is not a reference table"
    for table in distributed:
        referencing = rows(
            "SELECT conrelid::regclass::text FROM pg_constraint WHERE confrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        assert not referencing, f"{referencing} reference the distributed {table}"


def test_no_sql_relies_on_ctid():
    for app in ("config", "servers", "ingest", "monitoring", "alerts"):
        for path in (ROOT / app).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                assert "ctid" not in code.lower(), f"{path.relative_to(ROOT)}:{number} uses ctid"
