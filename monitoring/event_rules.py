"""The event rule engine (seed 003): every event is judged NORMAL, WARNING or CRITICAL on arrival.

Rules, each giving findings (a reason a person can act on, a severity, a
suggestion and the decision it calls for):

- thresholds: response_time > EVENT_RESPONSE_TIME_MS, cpu_usage > EVENT_CPU_USAGE,
  memory_usage > EVENT_MEMORY_USAGE, error_rate > EVENT_ERROR_RATE (percent),
  latency > EVENT_LATENCY_MS. Severity 0.7 at the threshold, rising to 0.9 at twice
  the threshold (for cpu/memory: at 100 %), capped at 1.0.
- invalid or null output: ``output`` null/empty/"null", a threshold field that is
  not a number, an event with no data at all.
- consistency: status 2xx with an error body, status 5xx with a success body.
- silent failures: success with a null ``result``, ``processed`` true with no
  output, ``completed`` true with ``items_processed`` 0.
- anomalies: a numeric field whose z-score against the running statistics of
  that (source, field) exceeds EVENT_ANOMALY_Z_SCORE (after MIN_HISTORY values).

Findings combine as independent evidence: severity = 1 - Π(1 - sᵢ), so two
warnings make a critical. Status: WARNING from WARNING_THRESHOLD, CRITICAL from
CRITICAL_THRESHOLD. Decision: the most drastic one the findings call for
(CONTINUE < RETRY < REPROCESS < ESCALATE < HALT), at least ESCALATE when CRITICAL,
HALT when two or more findings are critical on their own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection

from monitoring.choices import Decision, EventStatus

MIN_HISTORY = 10
DECISION_ORDER = [Decision.CONTINUE, Decision.RETRY, Decision.REPROCESS, Decision.ESCALATE, Decision.HALT]
# Fields that identify or classify rather than measure: no anomaly detection on them.
NOT_MEASURES = {"status_code", "status", "code", "http_status", "id", "timestamp", "ts", "port", "pid"}
SUCCESS_WORDS = {"success", "succeeded", "ok", "completed", "done"}
ERROR_WORDS = {"error", "failed", "failure", "fail", "exception"}
NULL_WORDS = {"", "null", "none", "nil", "undefined", "nan"}


@dataclass(frozen=True, slots=True)
class Threshold:
    field: str
    aliases: tuple[str, ...]
    setting: str
    unit: str
    percent_scale: bool  # cpu/memory: critical at 100 %, else at twice the threshold

    @property
    def limit(self) -> float:
        return float(getattr(settings, self.setting))


THRESHOLDS = (
    Threshold("response_time", ("response_time", "response_time_ms"), "EVENT_RESPONSE_TIME_MS", "ms", False),
    Threshold("cpu_usage", ("cpu_usage", "cpu_percent"), "EVENT_CPU_USAGE", "%", True),
    Threshold("memory_usage", ("memory_usage", "memory_percent"), "EVENT_MEMORY_USAGE", "%", True),
    Threshold("error_rate", ("error_rate",), "EVENT_ERROR_RATE", "%", False),
    Threshold("latency", ("latency", "latency_ms"), "EVENT_LATENCY_MS", "ms", False),
)


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    reason: str
    severity: float
    suggestion: str
    decision: str


@dataclass(frozen=True, slots=True)
class Baseline:
    """What the history of one (source, field) says: count, mean, M2 (Welford)."""

    count: int
    mean: float
    m2: float

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else 0.0


@dataclass(slots=True)
class Verdict:
    status: str = EventStatus.NORMAL
    severity: float = 0.0
    reasons: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    decision: str = Decision.CONTINUE
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "status": str(self.status),
            "severity_score": self.severity,
            "reasons": self.reasons,
            "suggestions": self.suggestions,
            "decision": str(self.decision),
        }


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def _status_code(data: Mapping) -> int | None:
    raw = data.get("status_code", data.get("http_status"))
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    return None


def _word(value) -> str | None:
    return value.strip().lower() if isinstance(value, str) else None


def _empty(value) -> bool:
    return value is None or value in ({}, []) or _word(value) in NULL_WORDS


def threshold_violations(data: Mapping) -> list[Finding]:
    findings = []
    for rule in THRESHOLDS:
        name = next((alias for alias in rule.aliases if alias in data), None)
        if name is None:
            continue
        value = _number(data[name])
        if value is None:
            if data[name] is not None:
                findings.append(
                    Finding(
                        "invalid_output",
                        f"{name} is not a number ({str(data[name])[:40]!r})",
                        0.75,
                        f"Fix the producer of {name}: it must send a number",
                        Decision.REPROCESS,
                    )
                )
            continue
        limit = rule.limit
        if value <= limit:
            continue
        headroom = (100.0 - limit) if rule.percent_scale and limit < 100 else limit
        excess = (value - limit) / headroom if headroom > 0 else 1.0
        severity = round(min(1.0, 0.7 + 0.2 * excess), 3)
        critical = severity >= settings.CRITICAL_THRESHOLD
        findings.append(
            Finding(
                "threshold",
                f"{rule.field.replace('_', ' ').capitalize()} {value:g}{rule.unit} exceeds the threshold "
                f"of {limit:g}{rule.unit}",
                severity,
                _THRESHOLD_SUGGESTIONS[rule.field],
                Decision.ESCALATE if critical else Decision.RETRY,
            )
        )
    return findings


_THRESHOLD_SUGGESTIONS = {
    "response_time": "Check the slow dependency (database, upstream API) and add a timeout or cache",
    "cpu_usage": "Find the busy process, scale out or throttle the workload",
    "memory_usage": "Look for a memory leak or raise the memory limit; restart if it keeps growing",
    "error_rate": "Inspect the recent errors in the logs and roll back the last deployment if they started with it",
    "latency": "Check network paths and queue depths between the caller and this service",
}


def invalid_output(data: Mapping) -> list[Finding]:
    if not data:
        return [
            Finding(
                "invalid_output",
                "Event carries no data",
                0.75,
                "Make the producer send its measurements and output",
                Decision.REPROCESS,
            )
        ]
    if "output" in data and _empty(data["output"]) and not data.get("processed"):
        return [
            Finding(
                "invalid_output",
                "Output is null or empty",
                0.75,
                "Re-run the step and check why it produced no output",
                Decision.REPROCESS,
            )
        ]
    return []


def consistency(data: Mapping) -> list[Finding]:
    code = _status_code(data)
    if code is None:
        return []
    words = {_word(data.get(key)) for key in ("output", "status", "result", "message")} - {None}
    if 200 <= code < 300:
        errors = data.get("errors")
        if (
            (data.get("error") not in (None, "", False))
            or data.get("success") is False
            or (isinstance(errors, list) and errors)
            or words & ERROR_WORDS
        ):
            return [
                Finding(
                    "consistency",
                    f"Inconsistent: status {code} with an error in the body",
                    0.8,
                    "The service reports success while failing: fix its error handling so errors get an error status",
                    Decision.REPROCESS,
                )
            ]
    if code >= 500 and (data.get("success") is True or words & SUCCESS_WORDS):
        return [
            Finding(
                "consistency",
                f"Inconsistent: status {code} with a success body",
                0.85,
                "Verify whether the operation really happened before retrying; the response contradicts itself",
                Decision.REPROCESS,
            )
        ]
    return []


def silent_failures(data: Mapping) -> list[Finding]:
    findings = []
    code = _status_code(data)
    succeeded = (
        data.get("success") is True
        or _word(data.get("status")) in SUCCESS_WORDS
        or _word(data.get("output")) in SUCCESS_WORDS
        or (code is not None and 200 <= code < 300)
    )
    if succeeded and "result" in data and data["result"] is None:
        findings.append(
            Finding(
                "silent_failure",
                "Silent failure: success reported with a null result",
                0.8,
                "Reprocess the input and check why the step returned nothing",
                Decision.REPROCESS,
            )
        )
    if data.get("processed") is True and _empty(data.get("output")):
        findings.append(
            Finding(
                "silent_failure",
                "Silent failure: processed=true but no output",
                0.8,
                "Reprocess the input; the processor dropped its output",
                Decision.REPROCESS,
            )
        )
    if data.get("completed") is True and "items_processed" in data and _number(data["items_processed"]) == 0:
        findings.append(
            Finding(
                "silent_failure",
                "Silent failure: completed=true but items_processed=0",
                0.8,
                "Check the job's input source: it completed without processing anything",
                Decision.REPROCESS,
            )
        )
    return findings


def measures(data: Mapping) -> dict[str, float]:
    """The numeric fields of an event that anomaly detection follows (top level, not ids or codes)."""
    found = {}
    for name, value in data.items():
        number = _number(value)
        if number is None or name in NOT_MEASURES or name.endswith("_id") or len(name) > 128:
            continue
        found[name] = number
    return found


def anomalies(data: Mapping, history: Mapping[str, Baseline]) -> list[Finding]:
    limit = settings.EVENT_ANOMALY_Z_SCORE
    findings = []
    for name, value in measures(data).items():
        baseline = history.get(name)
        if baseline is None or baseline.count < MIN_HISTORY:
            continue
        # a perfectly steady history still has a scale: 1 % of its mean
        spread = max(baseline.std, abs(baseline.mean) * 0.01, 1e-9)
        z = abs(value - baseline.mean) / spread
        if z <= limit:
            continue
        severity = round(min(1.0, 0.7 + 0.2 * (z - limit) / limit), 3)
        findings.append(
            Finding(
                "anomaly",
                f"Anomaly: {name} {value:g} is {z:.1f} standard deviations from its mean "
                f"{baseline.mean:.4g} (n={baseline.count})",
                severity,
                f"Compare {name} with recent deployments and load; confirm whether the change is expected",
                Decision.ESCALATE if severity >= settings.CRITICAL_THRESHOLD else Decision.CONTINUE,
            )
        )
    return findings


def evaluate(data: Mapping, history: Mapping[str, Baseline] | None = None) -> Verdict:
    """Judge one event's data against the rules (``history``: baselines of its numeric fields)."""
    findings = (
        threshold_violations(data)
        + invalid_output(data)
        + consistency(data)
        + silent_failures(data)
        + anomalies(data, history or {})
    )
    verdict = Verdict(findings=findings)
    if not findings:
        return verdict
    remaining = 1.0
    for finding in findings:
        remaining *= 1.0 - finding.severity
    verdict.severity = round(1.0 - remaining, 3)
    verdict.reasons = [f.reason for f in findings]
    verdict.suggestions = list(dict.fromkeys(f.suggestion for f in findings))
    if verdict.severity >= settings.CRITICAL_THRESHOLD:
        verdict.status = EventStatus.CRITICAL
    elif verdict.severity >= settings.WARNING_THRESHOLD:
        verdict.status = EventStatus.WARNING
    decision = max((Decision(f.decision) for f in findings), key=DECISION_ORDER.index)
    if verdict.status == EventStatus.CRITICAL:
        decision = max(decision, Decision.ESCALATE, key=DECISION_ORDER.index)
    if sum(f.severity >= settings.CRITICAL_THRESHOLD for f in findings) >= 2:
        decision = Decision.HALT
    verdict.decision = decision
    return verdict


def fold_in(
    server_id: str | None, source: str, values: Mapping[str, float], now: datetime | None = None
) -> dict[str, Baseline]:
    """Add values to the running statistics of the server's ``source``; answers the baselines as they were before.

    One statement: ``prior`` sees the rows as they were before the statement's own
    UPSERT (which runs whether or not it is read), and the UPSERT applies
    Welford's update in place, so concurrent writers never lose a value. The
    statistics are the server's own (NULL: events without a server; the unique
    key treats NULLs as equal), so one agent never shifts another host's baseline.
    """
    if not values:
        return {}
    names = list(values)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH v AS (
                SELECT * FROM unnest(%s::text[], %s::float8[]) AS v(field, x)
            ), prior AS (
                SELECT f.field, f.count, f.mean, f.m2 FROM monitoring_fieldstats f
                JOIN v USING (field) WHERE f.source = %s AND f.server_id IS NOT DISTINCT FROM %s::uuid
            ), folded AS (
                INSERT INTO monitoring_fieldstats AS s (server_id, source, field, count, mean, m2, updated_at)
                SELECT %s::uuid, %s, v.field, 1, v.x, 0, %s FROM v
                ON CONFLICT (server_id, source, field) DO UPDATE SET
                    count = s.count + 1,
                    mean = s.mean + (EXCLUDED.mean - s.mean) / (s.count + 1),
                    m2 = s.m2 + (EXCLUDED.mean - s.mean)
                              * (EXCLUDED.mean - (s.mean + (EXCLUDED.mean - s.mean) / (s.count + 1))),
                    updated_at = EXCLUDED.updated_at
                RETURNING 1
            )
            SELECT field, count, mean, m2 FROM prior
            """,
            [names, [values[n] for n in names], source, server_id, server_id, source, now or datetime.now(UTC)],
        )
        return {name: Baseline(count, mean, m2) for name, count, mean, m2 in cursor.fetchall()}


def baselines(server_id: str | None, source: str, names) -> dict[str, Baseline]:
    """The running statistics of the server's ``source`` for ``names``, read only (re-evaluation)."""
    from monitoring.models import FieldStats

    rows = FieldStats.objects.filter(server_id=server_id, source=source, field__in=list(names))
    return {row.field: Baseline(row.count, row.mean, row.m2) for row in rows}
