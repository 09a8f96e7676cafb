"""Runs: one row per (series, request) holding that request's samples of the series as arrays.

A request carrying several samples of a series (an agent's batch of
consecutive scrapes, a remote_write with several points a series) stores them
as one row (monitoring/storage.py, INGEST_RUN_MIN_SAMPLES) instead of one row
each: a tenth of the rows and index entries, and of PostgreSQL's work on the
write path. A run never crosses midnight nor spans more than
``compaction.MAX_RUN_SPAN``; compaction folds runs into chunks with the rows.

``monitoring_sample_open`` (the ``Sample`` model) reads the rows and the runs
as rows; compacted days are read through monitoring.compaction.samples_from.
"""

from django.db import migrations

CREATE = """
CREATE TABLE monitoring_sample_run (
    series_id bigint NOT NULL,
    first_ts timestamptz NOT NULL,
    last_ts timestamptz NOT NULL,
    ts timestamptz[] NOT NULL,
    value double precision[] NOT NULL
) PARTITION BY RANGE (first_ts);
CREATE INDEX monitoring_sample_run_series_first ON monitoring_sample_run (series_id, first_ts);
CREATE INDEX monitoring_sample_run_first_brin ON monitoring_sample_run USING brin (first_ts);
CREATE VIEW monitoring_sample_open AS
    SELECT series_id, ts, value FROM monitoring_sample
    UNION ALL
    SELECT r.series_id, u.ts, u.value FROM monitoring_sample_run r CROSS JOIN LATERAL unnest(r.ts, r.value) AS u(ts, value);
"""

DROP = """
DROP VIEW IF EXISTS monitoring_sample_open;
DROP TABLE IF EXISTS monitoring_sample_run;
"""


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0006_sample_chunks")]

    operations = [
        migrations.RunSQL(CREATE, DROP),
        migrations.AlterModelTable("sample", "monitoring_sample_open"),
    ]
