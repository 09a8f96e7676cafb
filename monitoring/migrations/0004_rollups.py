"""Roll-ups of samples per series: 1-minute and 1-hour buckets, partitioned by month.

``monitoring_rollupdirty`` is the queue of minute buckets the writer touched
(appended in the same transaction as the samples, no unique key so writers
never wait on each other); upkeep consumes it and recomputes those buckets
from raw samples (monitoring/rollups.py). The BRIN index on samples' ``ts``
serves time-only scans (the last five minutes of the fleet) at almost no
cost to the writer, since samples arrive in time order.
"""

from django.db import migrations

CREATE = """
CREATE TABLE monitoring_rollup1m (
    series_id bigint NOT NULL,
    bucket timestamptz NOT NULL,
    min double precision NOT NULL,
    max double precision NOT NULL,
    sum double precision NOT NULL,
    count bigint NOT NULL,
    last double precision NOT NULL,
    last_ts timestamptz NOT NULL,
    PRIMARY KEY (series_id, bucket)
) PARTITION BY RANGE (bucket);

CREATE TABLE monitoring_rollup1h (
    series_id bigint NOT NULL,
    bucket timestamptz NOT NULL,
    min double precision NOT NULL,
    max double precision NOT NULL,
    sum double precision NOT NULL,
    count bigint NOT NULL,
    last double precision NOT NULL,
    last_ts timestamptz NOT NULL,
    PRIMARY KEY (series_id, bucket)
) PARTITION BY RANGE (bucket);

CREATE TABLE monitoring_rollupdirty (
    series_id bigint NOT NULL,
    bucket timestamptz NOT NULL
);

CREATE INDEX monitoring_sample_ts_brin ON monitoring_sample USING brin (ts);
"""

DROP = """
DROP INDEX IF EXISTS monitoring_sample_ts_brin;
DROP TABLE IF EXISTS monitoring_rollupdirty;
DROP TABLE IF EXISTS monitoring_rollup1h;
DROP TABLE IF EXISTS monitoring_rollup1m;
"""


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0003_event_field_stats")]

    operations = [migrations.RunSQL(CREATE, DROP)]
