"""People ask for series over a range (seed 001 GET /api/v1/metrics): latest values, raw points, steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 11, 20, 10, 0, tzinfo=UTC)


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_without_a_range_each_series_answers_its_latest_value(api, web01, db02, write_samples):
    write_samples(
        web01,
        [
            ("cpu", "usage", {"core": "0"}, T0, 10.0),
            ("cpu", "usage", {"core": "0"}, T0 + timedelta(seconds=10), 20.0),
            ("cpu", "usage", {"core": "1"}, T0, 30.0),
            ("ram", "usage_percent", {}, T0 + timedelta(days=1), 78.5),
        ],
    )
    write_samples(db02, [("cpu", "usage", {"core": "0"}, T0, 99.0)])
    response = api.get("/api/v1/metrics", {"server_id": str(web01.id), "metric_type": "cpu"})
    assert response.status_code == 200
    body = response.json()
    assert [(s["labels"], s["points"]) for s in body] == [
        ({"core": "0"}, [["2025-11-20T10:00:10Z", 20.0]]),
        ({"core": "1"}, [["2025-11-20T10:00:00Z", 30.0]]),
    ]
    first = body[0]
    assert (first["server"], first["hostname"], first["metric_type"], first["name"]) == (
        str(web01.id),
        "web-01",
        "cpu",
        "usage",
    )
    assert isinstance(first["id"], int)


def test_latest_value_found_in_an_older_partition(api, web01, write_samples):
    write_samples(web01, [("cpu", "usage", {}, T0, 5.0)])
    write_samples(web01, [("ram", "used", {}, T0 + timedelta(days=3), 6.0)])
    body = api.get("/api/v1/metrics", {"server_id": "web-01", "metric_type": "cpu"}).json()
    assert body[0]["points"] == [["2025-11-20T10:00:00Z", 5.0]]


def test_label_matchers_and_name_filter_narrow_the_series(api, web01, write_samples):
    write_samples(
        web01,
        [
            ("cpu", "usage", {"core": "0", "mode": "user"}, T0, 1.0),
            ("cpu", "usage", {"core": "0", "mode": "system"}, T0, 2.0),
            ("cpu", "usage", {"core": "1", "mode": "user"}, T0, 3.0),
            ("cpu", "temperature", {"core": "0"}, T0, 4.0),
        ],
    )
    one = api.get("/api/v1/metrics?metric_name=usage&labels=core:0&labels=mode:user").json()
    assert [s["points"][0][1] for s in one] == [1.0]
    both = api.get("/api/v1/metrics", {"labels": "core:0", "metric_type": "cpu"}).json()
    assert sorted(s["points"][0][1] for s in both) == [1.0, 2.0, 4.0]
    comma = api.get("/api/v1/metrics", {"labels": "core:1,mode:user"}).json()
    assert [s["points"][0][1] for s in comma] == [3.0]
    assert api.get("/api/v1/metrics", {"server_id": "no-such-host"}).json() == []


def test_a_range_without_step_answers_the_raw_samples_in_order(api, web01, write_samples):
    samples = [("cpu", "usage", {}, T0 + timedelta(seconds=10 * i), float(i)) for i in range(10)]
    write_samples(web01, samples)
    body = api.get(
        "/api/v1/metrics",
        {"metric_type": "cpu", "from": _iso(T0 + timedelta(seconds=20)), "to": _iso(T0 + timedelta(seconds=50))},
    ).json()
    assert body[0]["points"] == [
        ["2025-11-20T10:00:20Z", 2.0],
        ["2025-11-20T10:00:30Z", 3.0],
        ["2025-11-20T10:00:40Z", 4.0],
        ["2025-11-20T10:00:50Z", 5.0],
    ]


def test_epoch_times_are_accepted(api, web01, write_samples):
    write_samples(web01, [("cpu", "usage", {}, T0, 1.0), ("cpu", "usage", {}, T0 + timedelta(hours=2), 2.0)])
    start = int(T0.timestamp())
    body = api.get("/api/v1/metrics", {"from": start, "to": start + 60}).json()
    assert body[0]["points"] == [["2025-11-20T10:00:00Z", 1.0]]
    millis = api.get("/api/v1/metrics", {"from": start * 1000, "to": (start + 60) * 1000}).json()
    assert millis[0]["points"] == body[0]["points"]


@pytest.mark.parametrize("agg", ["avg", "min", "max", "sum", "count", "last"])
def test_each_aggregate_matches_values_computed_here(api, web01, write_samples, agg):
    values = [3.0, 7.5, -2.0, 11.25, 4.0, 0.5, 9.0, 6.0, 1.0]  # every 20 s from T0
    write_samples(web01, [("cpu", "usage", {}, T0 + timedelta(seconds=20 * i), v) for i, v in enumerate(values)])
    body = api.get(
        "/api/v1/metrics",
        {"from": _iso(T0), "to": _iso(T0 + timedelta(seconds=179)), "step": "1m", "agg": agg, "source": "raw"},
    ).json()
    buckets = [values[0:3], values[3:6], values[6:9]]
    expected = {
        "avg": lambda b: sum(b) / len(b),
        "min": min,
        "max": max,
        "sum": sum,
        "count": lambda b: float(len(b)),
        "last": lambda b: b[-1],
    }[agg]
    assert [p[0] for p in body[0]["points"]] == ["2025-11-20T10:00:00Z", "2025-11-20T10:01:00Z", "2025-11-20T10:02:00Z"]
    assert [p[1] for p in body[0]["points"]] == pytest.approx([expected(b) for b in buckets])


def test_bucket_edges_belong_to_the_bucket_they_start(api, web01, write_samples):
    write_samples(
        web01,
        [
            ("cpu", "usage", {}, T0 - timedelta(microseconds=1), 1.0),  # last instant of 09:59:50
            ("cpu", "usage", {}, T0, 2.0),  # first instant of 10:00:00
            ("cpu", "usage", {}, T0 + timedelta(seconds=9, microseconds=999_999), 3.0),
            ("cpu", "usage", {}, T0 + timedelta(seconds=10), 4.0),
        ],
    )
    # from inside a bucket widens to the whole bucket; to inside a bucket includes that bucket
    body = api.get(
        "/api/v1/metrics",
        {"from": _iso(T0 + timedelta(seconds=5)), "to": _iso(T0 + timedelta(seconds=15)), "step": "10s", "agg": "sum"},
    ).json()
    assert body[0]["points"] == [["2025-11-20T10:00:00Z", 5.0], ["2025-11-20T10:00:10Z", 4.0]]


def test_last_of_a_bucket_is_the_latest_sample_whatever_the_insert_order(api, web01, write_samples):
    write_samples(web01, [("cpu", "usage", {}, T0 + timedelta(seconds=30), 8.0)])
    write_samples(web01, [("cpu", "usage", {}, T0 + timedelta(seconds=5), 1.0)])
    body = api.get(
        "/api/v1/metrics", {"from": _iso(T0), "to": _iso(T0), "step": "1m", "agg": "last", "source": "raw"}
    ).json()
    assert body[0]["points"] == [["2025-11-20T10:00:00Z", 8.0]]


def test_too_many_points_is_a_400_naming_the_smallest_allowed_step(api, web01, settings):
    settings.MAX_QUERY_POINTS = 100
    response = api.get("/api/v1/metrics", {"from": _iso(T0), "to": _iso(T0 + timedelta(hours=1)), "step": "10s"})
    assert response.status_code == 400
    message = response.json()["step"][0]
    assert "smallest allowed step for this range is 37s" in message  # 3600 s / 99 -> 37 s gives 98 buckets
    ok = api.get("/api/v1/metrics", {"from": _iso(T0), "to": _iso(T0 + timedelta(hours=1)), "step": "37s"})
    assert ok.status_code == 200
    too_fine = api.get("/api/v1/metrics", {"from": _iso(T0), "to": _iso(T0 + timedelta(hours=1)), "step": "36s"})
    assert too_fine.status_code == 400


def test_too_many_raw_samples_is_a_400_naming_a_step(api, web01, write_samples, settings):
    settings.MAX_QUERY_POINTS = 5
    write_samples(web01, [("cpu", "usage", {}, T0 + timedelta(seconds=i), float(i)) for i in range(6)])
    response = api.get("/api/v1/metrics", {"from": _iso(T0), "to": _iso(T0 + timedelta(minutes=1))})
    assert response.status_code == 400
    assert "smallest allowed step is 15s" in response.json()["step"][0]


def test_series_times_points_over_the_total_cap_is_refused_before_reading(api, web01, write_samples, settings):
    settings.MAX_QUERY_TOTAL_POINTS = 100
    write_samples(web01, [("cpu", "usage", {"core": str(i)}, T0, 1.0) for i in range(4)])
    hour = {"from": _iso(T0), "to": _iso(T0 + timedelta(hours=1))}

    refused = api.get("/api/v1/metrics", {**hour, "step": "1m"})  # 4 series x 61 points
    allowed = api.get("/api/v1/metrics", {**hour, "step": "3m"})  # 4 x 21

    assert refused.status_code == 400 and "more than 100 in all" in refused.json()["step"][0]
    assert allowed.status_code == 200 and len(allowed.json()) == 4


def test_raw_samples_of_many_series_stop_at_the_total_cap(api, web01, write_samples, settings):
    settings.MAX_QUERY_TOTAL_POINTS = 10
    write_samples(web01, [("cpu", "usage", {"core": str(c)}, T0 + timedelta(seconds=i), 1.0)
                          for c in range(4) for i in range(5)])  # fmt: skip

    response = api.get("/api/v1/metrics", {"from": _iso(T0), "to": _iso(T0 + timedelta(minutes=1))})

    assert response.status_code == 400 and "at most 10 points in all" in response.json()["step"][0]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"from": "yesterday"}, "from"),
        ({"from": "2025-11-20T10:00:00"}, "from"),
        ({"from": "2025-11-20T10:00:00Z", "to": "soon"}, "to"),
        ({"from": "2025-11-20T11:00:00Z", "to": "2025-11-20T10:00:00Z"}, "from"),
        ({"from": "2025-11-20T10:00:00Z", "step": "fast"}, "step"),
        ({"from": "2025-11-20T10:00:00Z", "step": "0s"}, "step"),
        ({"from": "2025-11-20T10:00:00Z", "step": "-5m"}, "step"),
        ({"from": "2025-11-20T10:00:00Z", "step": "1m", "agg": "median"}, "agg"),
        ({"labels": "core"}, "labels"),
        ({"labels": ":0"}, "labels"),
        ({"from": "2025-11-20T10:00:00Z", "step": "90s", "source": "1m"}, "source"),
        ({"source": "5m"}, "source"),
        ({"from": "nan"}, "from"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(api, params, field):
    response = api.get("/api/v1/metrics", params)
    assert response.status_code == 400
    assert field in response.json()


def test_too_many_matching_series_is_a_400(api, web01, write_samples, settings):
    settings.MAX_QUERY_SERIES = 2
    write_samples(web01, [("cpu", "usage", {"core": str(i)}, T0, 1.0) for i in range(3)])
    response = api.get("/api/v1/metrics")
    assert response.status_code == 400
    assert "server_id" in response.json()


def test_a_range_query_reads_one_partition_through_the_index(api, web01, write_samples):
    for day in range(5):
        write_samples(web01, [("cpu", "usage", {}, T0 + timedelta(days=day), 1.0)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE monitoring_sample")
    with CaptureQueriesContext(connection) as queries:
        api.get("/api/v1/metrics", {"from": _iso(T0), "to": _iso(T0 + timedelta(hours=1)), "step": "10s"})
    sql = next(q["sql"] for q in queries.captured_queries if "date_bin" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny tables: ask which plan a big one gets
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "monitoring_sample_p20251120" in plan
    assert "p20251121" not in plan and "p20251124" not in plan
    assert "Index" in plan


def test_anonymous_people_cannot_read(client):
    assert client.get("/api/v1/metrics").status_code in (401, 403)
    assert client.get("/api/metrics/recent").status_code in (401, 403)


def test_an_agent_token_cannot_read(client, agent_token):
    response = client.get("/api/v1/metrics", HTTP_AUTHORIZATION=f"Bearer {agent_token}")
    assert response.status_code == 403
    response = client.get("/api/metrics/recent", HTTP_AUTHORIZATION=f"Bearer {agent_token}")
    assert response.status_code == 403


def test_a_logged_in_person_can_read(client, bob):
    client.force_login(bob)
    assert client.get("/api/v1/metrics").status_code == 200


def test_latest_value_of_a_series_heard_from_today(api, web01, write_samples):
    now = datetime.now(UTC).replace(microsecond=0)
    write_samples(web01, [("cpu", "usage", {}, now - timedelta(days=3), 1.0), ("cpu", "usage", {}, now, 2.0)])
    body = api.get("/api/v1/metrics", {"metric_type": "cpu"}).json()
    assert body[0]["points"] == [[_iso(now), 2.0]]
