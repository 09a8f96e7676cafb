"""Compacted days: one row per (series, day) holding that day's samples encoded (monitoring/chunks.py).

Partitioned by day like the samples, so retention and the size cap drop whole
days. The chunk bytes are compressed already: EXTERNAL storage keeps
PostgreSQL from trying to compress them again (out of line, no pglz pass).
"""

from django.db import migrations

CREATE = """
CREATE TABLE monitoring_sample_chunk (
    series_id bigint NOT NULL,
    day timestamptz NOT NULL,
    first_ts timestamptz NOT NULL,
    last_ts timestamptz NOT NULL,
    last_value double precision NOT NULL,
    count integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (series_id, day)
) PARTITION BY RANGE (day);
ALTER TABLE monitoring_sample_chunk ALTER COLUMN data SET STORAGE EXTERNAL;
"""

DROP = "DROP TABLE IF EXISTS monitoring_sample_chunk;"


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0005_log_templates_event_review")]

    operations = [migrations.RunSQL(CREATE, DROP)]
