"""Rules evaluated against samples, logs and events in the store, at chosen moments."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.choices import AlertState, RuleKind, Scope
from alerts.evaluation import evaluate, observe
from alerts.models import Alert, AlertRule
from config.tests.fixtures import write_series, write_service_logs
from monitoring.records import Batch, EventRecord
from monitoring.storage import write
from servers.models import Server


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


def cpu_rule(**kw):
    fields = dict(
        name="cpu high",
        metric_type="system",
        metric_name="cpu_usage",
        aggregate="last",
        threshold=90,
        window_seconds=60,
        for_seconds=10,
        summary="CPU {value:.0f}% on {server}",
    )
    fields.update(kw)
    return AlertRule.objects.create(**fields)


def states(rule):
    return sorted((a.server.hostname if a.server else None, a.state) for a in Alert.objects.filter(rule=rule))


def test_threshold_with_for_fires_only_after_the_duration(web01, web02, now):
    rule = cpu_rule()
    write_series(web01, "system", "cpu_usage", [(now - timedelta(seconds=1), 97.0)])
    write_series(web02, "system", "cpu_usage", [(now - timedelta(seconds=1), 20.0)])
    evaluate(rule, now)
    assert states(rule) == [("web-01", "pending")]
    evaluate(rule, now + timedelta(seconds=5))
    assert states(rule) == [("web-01", "pending")]
    evaluate(rule, now + timedelta(seconds=10))
    alert = Alert.objects.get(rule=rule)
    assert alert.state == AlertState.FIRING
    assert alert.trigger_value == 97.0
    assert alert.summary == "CPU 97% on web-01"
    assert alert.labels == {"alertname": "cpu high", "severity": "warning", "server": "web-01"}


def test_a_pending_alert_whose_condition_goes_away_never_fires(web01, now):
    rule = cpu_rule()
    write_series(web01, "system", "cpu_usage", [(now - timedelta(seconds=1), 97.0)])
    evaluate(rule, now)
    write_series(web01, "system", "cpu_usage", [(now + timedelta(seconds=4), 50.0)])
    evaluate(rule, now + timedelta(seconds=5))
    alert = Alert.objects.get(rule=rule)
    assert alert.state == AlertState.RESOLVED and alert.fired_at is None


def test_hysteresis_keeps_firing_until_below_the_recovery_value(web01, now):
    rule = cpu_rule(for_seconds=0, recovery_threshold=80)
    write_series(web01, "system", "cpu_usage", [(now - timedelta(seconds=1), 95.0)])
    evaluate(rule, now)
    assert states(rule) == [("web-01", "firing")]
    write_series(web01, "system", "cpu_usage", [(now + timedelta(seconds=9), 85.0)])
    evaluate(rule, now + timedelta(seconds=10))
    assert states(rule) == [("web-01", "firing")]
    write_series(web01, "system", "cpu_usage", [(now + timedelta(seconds=19), 79.0)])
    evaluate(rule, now + timedelta(seconds=20))
    assert states(rule) == [("web-01", "resolved")]


def test_scope_one_server_and_label_selector(web01, web02, db01, now):
    for server in (web01, web02, db01):
        write_series(server, "system", "cpu_usage", [(now - timedelta(seconds=1), 99.0)])
    only_db = cpu_rule(name="db cpu", for_seconds=0, scope=Scope.LABELS, server_labels={"role": "db"})
    only_web02 = cpu_rule(name="web-02 cpu", for_seconds=0, scope=Scope.SERVER, server=web02)
    evaluate(only_db, now)
    evaluate(only_web02, now)
    assert states(only_db) == [("db-01", "firing")]
    assert states(only_web02) == [("web-02", "firing")]


def test_absence_fires_for_a_silent_agent_and_resolves_when_it_speaks(web01, web02, now):
    rule = AlertRule.objects.create(name="agent silent", kind=RuleKind.ABSENCE, window_seconds=120)
    Server.objects.filter(pk=web01.pk).update(last_seen=now - timedelta(seconds=10))
    Server.objects.filter(pk=web02.pk).update(last_seen=now - timedelta(seconds=600))
    evaluate(rule, now)
    assert states(rule) == [("web-02", "firing")]
    Server.objects.filter(pk=web02.pk).update(last_seen=now + timedelta(seconds=5))
    evaluate(rule, now + timedelta(seconds=10))
    assert states(rule) == [("web-02", "resolved")]


def test_absence_of_a_metric_only_for_servers_that_had_it(web01, web02, now):
    rule = AlertRule.objects.create(
        name="cpu gone", kind=RuleKind.ABSENCE, metric_type="system", metric_name="cpu_usage", window_seconds=60
    )
    write_series(web01, "system", "cpu_usage", [(now - timedelta(seconds=300), 10.0)])
    write_series(web02, "system", "cpu_usage", [(now - timedelta(seconds=5), 10.0)])
    evaluate(rule, now)
    assert states(rule) == [("web-01", "firing")]


def test_log_error_rate_above_five_percent_in_five_minutes(web01, now):
    rule = AlertRule.objects.create(
        name="errors", kind=RuleKind.LOG_ERROR_RATE, threshold=5, window_seconds=300, service="api", for_seconds=0
    )
    lines = [(now - timedelta(seconds=i), "INFO", "ok") for i in range(1, 96)]
    lines += [(now - timedelta(seconds=i), "ERROR", "boom") for i in range(100, 104)]
    write_service_logs(web01, "api", lines)
    evaluate(rule, now)
    assert states(rule) == []  # 4 in 99: 4.04 %
    write_service_logs(web01, "api", [(now - timedelta(seconds=200), "ERROR", "boom again")] * 1)
    write_service_logs(web01, "api", [(now - timedelta(seconds=201), "CRITICAL", "down")])
    evaluate(rule, now)
    alert = Alert.objects.get(rule=rule)
    assert alert.state == AlertState.FIRING and alert.labels["service"] == "api"
    assert alert.value == pytest.approx(100 * 6 / 101)


def test_log_pattern_counts_matching_lines_of_services_without_a_server(db, now):
    rule = AlertRule.objects.create(
        name="oom", kind=RuleKind.LOG_PATTERN, pattern="out of memory", threshold=2, window_seconds=60
    )
    write_service_logs(
        None, "worker", [(now - timedelta(seconds=i), "ERROR", "Out Of Memory: killed") for i in (1, 2, 3)]
    )
    write_service_logs(None, "web", [(now - timedelta(seconds=1), "ERROR", "out of memory")])
    evaluate(rule, now)
    assert [(a.labels["service"], a.value) for a in Alert.objects.filter(rule=rule)] == [("worker", 3.0)]


def test_anomaly_flags_a_value_far_from_its_trailing_window(web01, web02, now):
    rule = AlertRule.objects.create(
        name="latency odd",
        kind=RuleKind.ANOMALY,
        metric_type="app",
        metric_name="latency_ms",
        threshold=3,
        window_seconds=60,
        trailing_seconds=600,
        for_seconds=0,
    )
    base = [(now - timedelta(seconds=70 + 10 * i), 100.0 + (i % 3)) for i in range(50)]
    write_series(web01, "app", "latency_ms", [*base, (now - timedelta(seconds=5), 400.0)])
    write_series(web02, "app", "latency_ms", [*base, (now - timedelta(seconds=5), 101.0)])
    evaluate(rule, now)
    assert states(rule) == [("web-01", "firing")]


def test_event_status_critical_events_from_a_source(web01, now):
    rule = AlertRule.objects.create(
        name="critical events",
        kind=RuleKind.EVENT_STATUS,
        service="payments",
        window_seconds=300,
        severity="critical",
    )
    batch = Batch()
    batch.events.append(
        EventRecord(
            ts=now - timedelta(seconds=3),
            server_id=web01.id,
            source="payments",
            event_type="latency",
            status="CRITICAL",
        )
    )
    batch.events.append(
        EventRecord(
            ts=now - timedelta(seconds=3), server_id=web01.id, source="search", event_type="latency", status="CRITICAL"
        )
    )
    write(batch)
    evaluate(rule, now)
    alert = Alert.objects.get(rule=rule)
    assert alert.state == AlertState.FIRING and alert.labels["source"] == "payments"


def test_one_query_per_rule_however_many_servers(web01, now, django_assert_num_queries):
    servers = [Server.objects.create(hostname=f"node-{i}") for i in range(20)]
    for server in servers:
        write_series(server, "system", "cpu_usage", [(now - timedelta(seconds=1), 10.0)])
    rule = cpu_rule()
    with django_assert_num_queries(1):
        assert len(observe(rule, now)) == 20


def test_a_second_evaluation_at_once_skips_instead_of_duplicating(web01, now):
    rule = cpu_rule(for_seconds=0)
    write_series(web01, "system", "cpu_usage", [(now - timedelta(seconds=1), 97.0)])
    from django.db import connections

    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN; SELECT pg_advisory_xact_lock(6006, %s)", [rule.pk])
            outcome = evaluate(rule, now)
            cursor.execute("COMMIT")
    finally:
        other.close()
    assert outcome.skipped
    assert evaluate(rule, now).fired == 1
    assert Alert.objects.filter(rule=rule).count() == 1


def test_a_rule_with_a_bad_regex_is_recorded_and_the_round_goes_on(web01, now):
    from alerts.evaluation import evaluate_rules

    bad = AlertRule.objects.create(name="bad", kind=RuleKind.LOG_PATTERN, pattern="(unclosed", window_seconds=60)
    good = cpu_rule(for_seconds=0)
    write_series(web01, "system", "cpu_usage", [(timezone.now() - timedelta(seconds=1), 97.0)])
    write_service_logs(web01, "api", [(timezone.now() - timedelta(seconds=1), "ERROR", "boom")])
    outcomes = {o.rule_id: o for o in evaluate_rules()}
    assert outcomes[bad.pk].error and outcomes[good.pk].fired == 1
    bad.refresh_from_db()
    assert "regular expression" in bad.last_error


def test_a_flapping_alert_is_held_firing_until_it_stays_clear(web01, now, settings):
    settings.ALERT_FLAP_THRESHOLD, settings.ALERT_FLAP_HOLD_SECONDS = 3, 60
    rule = cpu_rule(for_seconds=0, window_seconds=5)
    t = now
    for _ in range(2):  # fires and resolves twice
        write_series(web01, "system", "cpu_usage", [(t - timedelta(seconds=1), 99.0)])
        evaluate(rule, t)
        write_series(web01, "system", "cpu_usage", [(t + timedelta(seconds=9), 10.0)])
        evaluate(rule, t + timedelta(seconds=10))
        t += timedelta(seconds=20)
    write_series(web01, "system", "cpu_usage", [(t - timedelta(seconds=1), 99.0)])
    evaluate(rule, t)  # third time within the window: flapping
    alert = Alert.objects.get(rule=rule, state=AlertState.FIRING)
    assert alert.flapping
    write_series(web01, "system", "cpu_usage", [(t + timedelta(seconds=9), 10.0)])
    evaluate(rule, t + timedelta(seconds=10))
    alert.refresh_from_db()
    assert alert.state == AlertState.FIRING and alert.cleared_at is not None
    evaluate(rule, t + timedelta(seconds=75))  # clear for longer than the hold: no data counts as clear
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED
    assert alert.transitions.get(from_state=AlertState.FIRING, to_state=AlertState.RESOLVED).note == (
        "held down while flapping"
    )


def test_two_workers_evaluating_at_once_open_one_alert(transactional_db):
    import threading

    from django.db import connection

    from alerts.evaluation import evaluate_rules

    server = Server.objects.create(hostname="race-01")
    rule = cpu_rule(for_seconds=0)
    write_series(server, "system", "cpu_usage", [(timezone.now() - timedelta(seconds=1), 97.0)])
    start = threading.Barrier(4)
    errors = []

    def worker():
        try:
            start.wait()
            evaluate_rules([rule.pk], threads=1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for each in workers:
        each.start()
    for each in workers:
        each.join()
    assert errors == []
    alert = Alert.objects.get(rule=rule)
    assert alert.state == AlertState.FIRING
    assert [(t.from_state, t.to_state) for t in alert.transitions.all()] == [("", "pending"), ("pending", "firing")]
