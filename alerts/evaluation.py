"""Rule evaluation: one set-based query per rule over its window, then the alert lifecycle.

``observe(rule, now)`` answers, in ONE query for every server in scope, an
``Observation`` per group (a series, a server, a log service, an event source)
with its value. ``evaluate(rule)`` turns observations into alert transitions
under a per-rule advisory lock: a second worker evaluating the same rule at the
same moment skips it (the first one does the work), and the partial unique
constraint on open fingerprints backs that up, so no alert is ever duplicated
and no transition lost.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from alerts import health, paging
from alerts.choices import OPEN_STATES, Aggregate, AlertState, ConsoleCheck, MessageKind, RuleKind, Scope
from alerts.models import Alert, AlertRule
from monitoring.compaction import samples_from

log = logging.getLogger(__name__)

# advisory lock namespace of rule evaluation (pg_try_advisory_xact_lock(namespace, rule id))
LOCK_NAMESPACE = 6_006
# beat's ticks jitter by a little: a `for` of 10 s is met by an evaluation 9.5 s after the first
FOR_TOLERANCE = timedelta(seconds=0.5)

AGGREGATES = {
    Aggregate.AVG: "avg(x.value)",
    Aggregate.MIN: "min(x.value)",
    Aggregate.MAX: "max(x.value)",
    Aggregate.SUM: "sum(x.value)",
    Aggregate.COUNT: "count(*)::float8",
    Aggregate.LAST: "(array_agg(x.value ORDER BY x.ts DESC))[1]",
}
ERROR_LEVELS = ["ERROR", "CRITICAL"]


@dataclass(slots=True)
class Observation:
    server_id: str | None
    group: dict = field(default_factory=dict)
    value: float | None = None


@dataclass
class Outcome:
    rule_id: int
    skipped: bool = False
    observed: int = 0
    created: int = 0
    fired: int = 0
    resolved: int = 0
    reminded: int = 0
    seconds: float = 0.0
    error: str = ""


# --- the one query per rule -------------------------------------------------------
def _scope(rule: AlertRule, column: str, *, nullable: bool) -> tuple[str, list]:
    """SQL limiting rows to the rule's servers; ``column`` holds a server id, ``v`` is servers_server."""
    if rule.scope == Scope.SERVER:
        return f" AND {column} = %s", [rule.server_id]
    if rule.scope == Scope.LABELS:
        return " AND v.labels @> %s::jsonb", [orjson.dumps(rule.server_labels or {}).decode()]
    return ("" if nullable else " AND v.active"), []


def _series_filter(rule: AlertRule) -> tuple[str, list]:
    return (
        "s.metric_type = %s AND s.name = %s AND s.labels @> %s::jsonb",
        [rule.metric_type, rule.metric_name, orjson.dumps(rule.metric_labels or {}).decode()],
    )


def _samples(rule: AlertRule, lo: datetime, hi: datetime) -> str:
    """The samples relation for the rule's window: over compacted days, only the rule's series are decoded."""
    series, params = _series_filter(rule)
    scope, scope_params = _scope(rule, "s.server_id", nullable=False)
    ids = f"SELECT s.id FROM monitoring_series s JOIN servers_server v ON v.id = s.server_id WHERE {series}{scope}"
    return samples_from(lo, hi, (ids, [*params, *scope_params]))


def _threshold_sql(rule: AlertRule, now: datetime) -> tuple[str, list]:
    series, params = _series_filter(rule)
    scope, scope_params = _scope(rule, "s.server_id", nullable=False)
    sql = f"""
        SELECT s.server_id, s.labels, {AGGREGATES[Aggregate(rule.aggregate)]}
        FROM monitoring_series s
        JOIN servers_server v ON v.id = s.server_id
        JOIN {_samples(rule, now - timedelta(seconds=rule.window_seconds), now)} x
            ON x.series_id = s.id AND x.ts > %s AND x.ts <= %s
        WHERE {series}{scope}
        GROUP BY s.id, s.server_id, s.labels"""
    return sql, [now - timedelta(seconds=rule.window_seconds), now, *params, *scope_params]


def _anomaly_sql(rule: AlertRule, now: datetime) -> tuple[str, list]:
    series, params = _series_filter(rule)
    scope, scope_params = _scope(rule, "s.server_id", nullable=False)
    window_start = now - timedelta(seconds=rule.window_seconds)
    sql = f"""
        SELECT server_id, labels, abs(recent - mean) / NULLIF(sd, 0)
        FROM (
            SELECT s.server_id, s.labels,
                   avg(x.value) FILTER (WHERE x.ts > %s) AS recent,
                   avg(x.value) FILTER (WHERE x.ts <= %s) AS mean,
                   stddev_samp(x.value) FILTER (WHERE x.ts <= %s) AS sd
            FROM monitoring_series s
            JOIN servers_server v ON v.id = s.server_id
            JOIN {_samples(rule, window_start - timedelta(seconds=rule.trailing_seconds), now)} x
                ON x.series_id = s.id AND x.ts > %s AND x.ts <= %s
            WHERE {series}{scope}
            GROUP BY s.id, s.server_id, s.labels
        ) per_series
        WHERE recent IS NOT NULL AND sd IS NOT NULL"""
    return sql, [
        window_start,
        window_start,
        window_start,
        window_start - timedelta(seconds=rule.trailing_seconds),
        now,
        *params,
        *scope_params,
    ]


def _absence_sql(rule: AlertRule, now: datetime) -> tuple[str, list]:
    """Seconds since each server in scope was last heard (or sent the metric); NULL: not within the window."""
    scope, scope_params = _scope(rule, "v.id", nullable=False)
    since = now - timedelta(seconds=rule.window_seconds)
    if not rule.metric_name:
        # the built-in host-down rule watches hosts that have reported at least once (not registered services)
        hosts = " AND v.kind = 'host' AND v.last_seen IS NOT NULL" if rule.builtin == "host_down" else ""
        sql = f"""
            SELECT v.id, '{{}}'::jsonb,
                   CASE WHEN v.last_seen > %s THEN extract(epoch FROM %s - v.last_seen)::float8 END
            FROM servers_server v WHERE true{scope}{hosts}"""
        return sql, [since, now, *scope_params]
    # a metric gone quiet: only servers that have that series at all
    series, params = _series_filter(rule)
    sql = f"""
        SELECT s.server_id, s.labels, extract(epoch FROM %s - max(x.ts))::float8
        FROM monitoring_series s
        JOIN servers_server v ON v.id = s.server_id
        LEFT JOIN {_samples(rule, since, now)} x ON x.series_id = s.id AND x.ts > %s AND x.ts <= %s
        WHERE {series}{scope}
        GROUP BY s.id, s.server_id, s.labels"""
    return sql, [now, since, now, *params, *scope_params]


def _log_sql(rule: AlertRule, now: datetime) -> tuple[str, list]:
    scope, scope_params = _scope(rule, "l.server_id", nullable=True)
    if rule.kind == RuleKind.LOG_ERROR_RATE:
        value = "(100.0 * count(*) FILTER (WHERE l.level = ANY(%s)) / count(*))::float8"
        value_params: list = [ERROR_LEVELS]
        where, where_params = "", []
    else:
        value, value_params = "count(*)::float8", []
        where, where_params = "", []
        if rule.pattern:
            where, where_params = " AND l.message ~* %s", [rule.pattern]
        if rule.log_level:
            where, where_params = where + " AND l.level = %s", [*where_params, rule.log_level.upper()]
    # one service: the (service, ts) index answers; written out rather than "(%s = '' OR …)", which it cannot use
    service, service_params = (" AND l.service = %s", [rule.service]) if rule.service else ("", [])
    sql = f"""
        SELECT l.server_id, jsonb_build_object('service', l.service), {value}
        FROM monitoring_logentry l
        LEFT JOIN servers_server v ON v.id = l.server_id
        WHERE l.ts > %s AND l.ts <= %s{service}{where}{scope}
        GROUP BY l.server_id, l.service"""
    window = now - timedelta(seconds=rule.window_seconds)
    return sql, [*value_params, window, now, *service_params, *where_params, *scope_params]


def _event_sql(rule: AlertRule, now: datetime) -> tuple[str, list]:
    scope, scope_params = _scope(rule, "e.server_id", nullable=True)
    source, source_params = (" AND e.source = %s", [rule.service]) if rule.service else ("", [])
    sql = f"""
        SELECT e.server_id, jsonb_build_object('source', e.source), count(*)::float8
        FROM monitoring_event e
        LEFT JOIN servers_server v ON v.id = e.server_id
        WHERE e.ts > %s AND e.ts <= %s AND e.status = %s{source}{scope}
        GROUP BY e.server_id, e.source"""
    window = now - timedelta(seconds=rule.window_seconds)
    status = rule.event_status or "CRITICAL"
    return sql, [window, now, status, *source_params, *scope_params]


def _log_absence_sql(rule: AlertRule, now: datetime) -> tuple[str, list]:
    """Seconds each registered service (a server of kind service) has been without a log line of its own.

    Counted from its registration when it never logged; NULL never happens, so a
    service registered less than the window ago is not yet silent. Only the
    service's own lines count (posted for it with a fleet token): another host's
    agent logging under the same name cannot keep it from going silent.
    """
    scope, scope_params = _scope(rule, "v.id", nullable=False)
    service, service_params = (" AND v.hostname = %s", [rule.service]) if rule.service else ("", [])
    sql = f"""
        SELECT v.id, jsonb_build_object('service', v.hostname),
               extract(epoch FROM %s - GREATEST(v.created_at, (
                   SELECT max(l.ts) FROM monitoring_logentry l
                   WHERE l.server_id = v.id AND l.service = v.hostname AND l.ts > %s AND l.ts <= %s)))::float8
        FROM servers_server v WHERE v.kind = 'service'{service}{scope}"""
    since = now - timedelta(seconds=rule.window_seconds)
    return sql, [now, since, now, *service_params, *scope_params]


def _console_sql(rule: AlertRule, now: datetime) -> tuple[str, list]:
    """The console watching itself: one value, no server."""
    if rule.metric_name == ConsoleCheck.INGEST_LAG:
        # how late the snapshots stored in the last minute were, against the agents' own timestamps
        sql = """
            SELECT NULL::uuid, jsonb_build_object('check', %s::text), max(extract(epoch FROM received_at - ts))::float8
            FROM monitoring_snapshot WHERE received_at > %s AND received_at <= %s
            HAVING count(*) > 0"""
        return sql, [rule.metric_name, now - timedelta(seconds=60), now]
    age_sql, age_params = health.round_age_query(now)  # the one reading /health and /metrics make too
    return f"SELECT NULL::uuid, jsonb_build_object('check', %s::text), age FROM ({age_sql}) r(age)", [
        rule.metric_name,
        *age_params,
    ]


QUERIES = {
    RuleKind.THRESHOLD: _threshold_sql,
    RuleKind.ANOMALY: _anomaly_sql,
    RuleKind.ABSENCE: _absence_sql,
    RuleKind.LOG_ERROR_RATE: _log_sql,
    RuleKind.LOG_PATTERN: _log_sql,
    RuleKind.EVENT_STATUS: _event_sql,
    RuleKind.LOG_ABSENCE: _log_absence_sql,
    RuleKind.CONSOLE: _console_sql,
}


def observe(rule: AlertRule, now: datetime | None = None) -> list[Observation]:
    """Every group in the rule's scope with its value: one query, however many servers."""
    sql, params = QUERIES[RuleKind(rule.kind)](rule, now or timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        Observation(str(server_id) if server_id else None, _as_dict(group), None if value is None else float(value))
        for server_id, group, value in rows
    ]


def _as_dict(group) -> dict:
    if isinstance(group, dict):
        return group
    return orjson.loads(group) if group else {}


# --- the lifecycle ----------------------------------------------------------------
def evaluate(
    rule: AlertRule,
    now: datetime | None = None,
    *,
    record: bool = True,
    open_alerts: list[Alert] | None = None,
    values: list[Alert] | None = None,
) -> Outcome:
    """Evaluate one rule and move its alerts; safe to run twice at once (the second skips).

    The usual round changes nothing but values, and then a rule costs its one query:
    ``evaluate_rules`` reads the open alerts once for all rules (``open_alerts``) and
    writes the new values once (``values`` collects them). Only when an alert must
    open, fire, resolve or remind does the rule take its lock and a transaction.
    """
    started = time.perf_counter()
    outcome = Outcome(rule.pk)
    now = now or timezone.now()
    # autocommit: a failing query spoils nothing; inside a caller's transaction, a savepoint guards it
    with transaction.atomic() if connection.in_atomic_block else nullcontext():
        observations = observe(rule, now)
    outcome.observed = len(observations)
    if open_alerts is None:
        open_alerts = list(Alert.objects.filter(rule=rule, state__in=OPEN_STATES))
    steady = _steady(rule, observations, {a.fingerprint: a for a in open_alerts}, now)
    if steady is not None:
        if values is None:
            _store_values(steady, now)
        else:
            values.extend(steady)
        if record:
            AlertRule.objects.filter(pk=rule.pk).update(last_evaluated_at=now, last_error="")
        outcome.seconds = time.perf_counter() - started
        return outcome
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, rule.pk])
            if not cursor.fetchone()[0]:
                outcome.skipped = True
                return outcome
        _apply(rule, observations, now, outcome)
        if record:
            AlertRule.objects.filter(pk=rule.pk).update(last_evaluated_at=now, last_error="")
    outcome.seconds = time.perf_counter() - started
    return outcome


def _steady(rule: AlertRule, observations: list[Observation], open_alerts: dict[str, Alert], now: datetime):
    """The alerts whose value changed when no transition is due; None when one is (take the lock)."""
    if not open_alerts:
        return None if any(rule.violates(o.value) for o in observations) else []
    seen: set[str] = set()
    touched: list[Alert] = []
    for obs in observations:
        fingerprint = rule.fingerprint(obs.server_id, obs.group)
        alert = open_alerts.get(fingerprint)
        if alert is None:
            if rule.violates(obs.value):
                return None
            continue
        seen.add(fingerprint)
        if not rule.violates(obs.value, firing=alert.state == AlertState.FIRING):
            return None
        if alert.state == AlertState.PENDING:
            if now - alert.started_at >= timedelta(seconds=rule.for_seconds) - FOR_TOLERANCE:
                return None
        elif _remind_due(alert, rule, now) or paging.escalation_due(alert, rule, now):
            return None
        if alert.value != obs.value or alert.cleared_at is not None:
            alert.value, alert.cleared_at = obs.value, None
            touched.append(alert)
    if len(seen) != len(open_alerts):
        return None  # an open alert's group vanished: it resolves
    return touched


def _apply(rule: AlertRule, observations: list[Observation], now: datetime, outcome: Outcome) -> None:
    violating = any(rule.violates(o.value) for o in observations)
    open_alerts = {
        a.fingerprint: a for a in Alert.objects.filter(rule=rule, state__in=OPEN_STATES).select_related("server")
    }
    for alert in open_alerts.values():
        alert.rule = rule
    if not open_alerts and not violating:
        return
    hostnames = _Hostnames({o.server_id for o in observations if o.server_id})
    seen: set[str] = set()
    touched: list[Alert] = []
    for obs in observations:
        fingerprint = rule.fingerprint(obs.server_id, obs.group)
        seen.add(fingerprint)
        alert = open_alerts.get(fingerprint)
        firing = alert is not None and alert.state == AlertState.FIRING
        if not rule.violates(obs.value, firing=firing):
            if alert is not None:
                _clear(alert, obs.value, now, outcome)
            continue
        if alert is None:
            alert = _open(rule, obs, fingerprint, hostnames.get(obs.server_id), now)
            outcome.created += 1
        if alert.state == AlertState.PENDING:
            if now - alert.started_at >= timedelta(seconds=rule.for_seconds) - FOR_TOLERANCE:
                alert.fire(obs.value, now)
                outcome.fired += 1
            elif alert.value != obs.value:
                alert.value = obs.value
                touched.append(alert)
        else:
            if alert.value != obs.value or alert.cleared_at is not None:
                alert.value, alert.cleared_at = obs.value, None
                touched.append(alert)
            if _remind(alert, rule, now):
                outcome.reminded += 1
            paging.escalate(alert, rule, now)
    for fingerprint, alert in open_alerts.items():
        if fingerprint not in seen:
            _clear(alert, None, now, outcome)
    # only what changed is written: a steady firing alert costs no write per round
    for alert in touched:
        alert.last_evaluated_at = now
    if touched:
        _store_values(touched, now)


def _store_values(alerts: list[Alert], now: datetime) -> None:
    """The latest value of many alerts in one statement (bulk_update's CASE is slow for thousands)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE alerts_alert a SET value = v.value, cleared_at = NULL, last_evaluated_at = %s
            FROM unnest(%s::bigint[], %s::float8[]) AS v(id, value)
            WHERE a.id = v.id AND a.state IN ('pending', 'firing')""",
            [now, [a.pk for a in alerts], [a.value for a in alerts]],
        )


def _clear(alert: Alert, value: float | None, now: datetime, outcome: Outcome) -> None:
    alert.clear(value, now)
    if alert.state == AlertState.RESOLVED:
        outcome.resolved += 1


def _open(rule: AlertRule, obs: Observation, fingerprint: str, hostname: str | None, now: datetime) -> Alert:
    labels = {
        **{k: str(v) for k, v in obs.group.items()},
        **rule.labels,
        "alertname": rule.name,
        "severity": rule.severity,
    }
    if hostname:
        labels["server"] = hostname
    context = {
        **labels,
        "server": hostname or obs.group.get("service") or obs.group.get("source") or "fleet",
        "value": obs.value if obs.value is not None else float("nan"),
        "threshold": rule.threshold,
        "rule": rule.name,
        "window": rule.window_seconds,
    }
    summary = rule.render(rule.summary, context) or _default_summary(rule, context)
    alert = Alert.objects.create(
        rule=rule,
        server_id=obs.server_id,
        fingerprint=fingerprint,
        state=AlertState.PENDING,
        severity=rule.severity,
        labels=labels,
        summary=summary[:1000],
        description=rule.render(rule.description, context),
        runbook_url=rule.render(rule.runbook_url, context)[:500],
        value=obs.value,
        started_at=now,
        last_evaluated_at=now,
    )
    alert.opened()
    return alert


def _default_summary(rule: AlertRule, context: dict) -> str:
    value = context["value"]
    shown = "no data" if value != value else f"{value:.4g}"  # NaN: absent
    if rule.kind in (RuleKind.ABSENCE, RuleKind.LOG_ABSENCE):
        return f"{rule.name}: {context['server']} silent for more than {rule.window_seconds}s"
    if rule.kind == RuleKind.CONSOLE:
        return f"{rule.name}: {rule.metric_name} {shown} ({rule.get_comparison_display()} {rule.threshold:g})"
    return f"{rule.name} on {context['server']}: {shown} ({rule.get_comparison_display()} {rule.threshold:g})"


class _Hostnames:
    """Hostnames of the observed servers, read in one query the first time a new alert needs one."""

    def __init__(self, server_ids: set[str]):
        self.server_ids, self.names = server_ids, None

    def get(self, server_id: str | None) -> str | None:
        if self.names is None:
            from servers.models import Server

            rows = Server.objects.filter(pk__in=self.server_ids).values_list("pk", "hostname")
            self.names = {str(pk): name for pk, name in rows}
        return self.names.get(server_id) if server_id else None


def _remind_due(alert: Alert, rule: AlertRule, now: datetime) -> bool:
    """A firing alert nobody acknowledged is repeated as its policy says (default: REPEAT_INTERVAL)."""
    if alert.acknowledged_at is not None:
        return False
    every = paging.repeat_every(rule)
    last = alert.last_notified_at or alert.fired_at or alert.started_at
    return every is not None and now - last >= every


def _remind(alert: Alert, rule: AlertRule, now: datetime) -> bool:
    if not _remind_due(alert, rule, now):
        return False
    alert.last_notified_at = now
    Alert.objects.filter(pk=alert.pk).update(last_notified_at=now)
    paging.page(alert, MessageKind.REMINDER, now)
    return True


# --- a round ----------------------------------------------------------------------
def evaluate_rules(rule_ids: list[int] | None = None, *, threads: int | None = None) -> list[Outcome]:
    """Evaluate enabled rules (all, or those listed); a failing rule is recorded and the round goes on.

    With ``threads`` > 1 (ALERT_EVAL_THREADS) the rules are shared among that many threads, each
    with its own database connection, so PostgreSQL runs several rule queries at once.
    """
    rules = list(AlertRule.objects.filter(enabled=True).select_related("server", "policy").order_by("pk"))
    if rule_ids is not None:
        wanted = set(rule_ids)
        rules = [rule for rule in rules if rule.pk in wanted]
    default = paging.default_policy()
    for rule in rules:
        rule._effective_policy = rule.policy if rule.policy_id else default
    # the open alerts of every rule, read once for the round
    open_alerts: dict[int, list[Alert]] = {rule.pk: [] for rule in rules}
    for alert in Alert.objects.filter(state__in=OPEN_STATES):
        open_alerts.setdefault(alert.rule_id, []).append(alert)
    # host-down rules first, so the other rules of the round find a host's down alert already firing
    first = [rule for rule in rules if rule.is_host_down]
    rules = [rule for rule in rules if not rule.is_host_down]
    outcomes = _evaluate_share(first, open_alerts, False) if first else []
    threads = min(threads or settings.ALERT_EVAL_THREADS, len(rules))
    if threads > 1 and not connection.in_atomic_block:
        with ThreadPoolExecutor(threads, thread_name_prefix="alert-eval") as pool:
            shares = [rules[i::threads] for i in range(threads)]
            shared = pool.map(lambda r: _evaluate_share(r, open_alerts, True), shares)
            outcomes += [o for share in shared for o in share]
    else:
        outcomes += _evaluate_share(rules, open_alerts, False)
    if rule_ids is None:
        paging.release(timezone.now())
    # one write records the round for every rule that was evaluated
    done = [o.rule_id for o in outcomes if not o.error and not o.skipped]
    if done:
        AlertRule.objects.filter(pk__in=done).update(last_evaluated_at=timezone.now(), last_error="")
    return outcomes


def _evaluate_share(rules: list[AlertRule], open_alerts: dict[int, list[Alert]], own_connection: bool) -> list[Outcome]:
    outcomes: list[Outcome] = []
    values: list[Alert] = []
    try:
        for rule in rules:
            try:
                outcomes.append(evaluate(rule, record=False, open_alerts=open_alerts.get(rule.pk, []), values=values))
            except Exception as exc:  # one broken rule (a bad regex) must not stop the others
                log.exception("evaluating rule %s failed", rule.pk)
                AlertRule.objects.filter(pk=rule.pk).update(
                    last_error=str(exc)[:2000], last_evaluated_at=timezone.now()
                )
                outcomes.append(Outcome(rule.pk, error=str(exc)))
        if values:
            _store_values(values, timezone.now())
    finally:
        if own_connection:
            connection.close()
    return outcomes
