"""Seed 004's log classification: templates of each service's new lines, classified, every few seconds.

Every ``PROCESSING_INTERVAL_SECONDS`` (when ``AI_CLASSIFICATION_ENABLED``) the
task takes each service's lines not yet classified (the buffer: at most
``MAX_LOG_BATCH_SIZE`` per service, newest first, from the last
``BUFFER_INTERVALS`` intervals) and cuts them into batches of ``BATCH_SIZE``
lines, oldest first. A batch's lines are grouped by drain3 into templates
(one miner per service, kept by the worker, so templates settle as it sees
more lines); templates already stored are only counted, and the new ones are
classified in one go by the classifier handed in: Groq (alerts/analysis/
log_classifier.py, which may call the model once per batch) or the rules below.
The answer (category, severity, reason) is stored with the template and each
line points at its template, so the logs explorer, the analytics endpoints and
the service health read it back.

The classifier is handed in because the model client belongs to alerts/, and
monitoring imports nothing of alerts.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from drain3 import TemplateMiner

from monitoring.choices import ClassifiedBy, LogCategory, LogLevel, LogSeverity
from monitoring.log_analytics import miner as new_miner
from monitoring.log_search import TABLE

log = logging.getLogger(__name__)

# lines older than this many intervals are left unclassified (the worker was down, or the buffer overflowed)
BUFFER_INTERVALS = 4
MAX_TEMPLATE_CHARS = 1000
MAX_SERVICES_WITH_MINERS = 500


@dataclass(slots=True)
class TemplateSeen:
    """What a classifier is shown of one template: how often and at which levels it came, one example."""

    template: str
    count: int = 0
    levels: Counter = field(default_factory=Counter)
    example: str = ""

    @property
    def worst_level(self) -> str:
        order = LogLevel.values
        return max(self.levels, key=order.index) if self.levels else LogLevel.INFO.value


@dataclass(frozen=True, slots=True)
class Classification:
    category: str
    severity: str
    reason: str


@dataclass(frozen=True, slots=True)
class Answer:
    """A classifier's answer for a batch: a classification per template, who gave it."""

    classifications: dict[str, Classification]
    classified_by: str = ClassifiedBy.RULES
    model: str = ""


Classifier = Callable[[str, list[TemplateSeen]], Answer]

# --- the rules: what answers without a model ----------------------------------------------------------------
_PATTERNS: list[tuple[re.Pattern, str, str]] = [
    # (pattern, category, at least this severity)
    (re.compile(r"out of memory|oom|no space left|disk full|too many open files", re.I), "resource", "critical"),
    (re.compile(r"traceback|exception|panic|segfault|stack ?trace|fatal", re.I), "exception", "error"),
    (re.compile(r"timed? ?out|timeout|deadline exceeded", re.I), "timeout", "warning"),
    (re.compile(r"deadlock|database|postgres|mysql|sql|db_\w+|constraint", re.I), "database", "warning"),
    (
        re.compile(r"connection (refused|reset|closed|failed)|unreachable|dns|socket|econn\w+|broken pipe", re.I),
        "network",
        "warning",
    ),
    (
        re.compile(r"unauthori[sz]ed|forbidden|permission denied|auth\w*|login failed|invalid token", re.I),
        "authentication",
        "warning",
    ),
    (re.compile(r"config\w*|missing (setting|variable|env)|invalid value", re.I), "configuration", "warning"),
]
_LEVEL_SEVERITY = {
    LogLevel.DEBUG.value: LogSeverity.INFO,
    LogLevel.INFO.value: LogSeverity.INFO,
    LogLevel.WARNING.value: LogSeverity.WARNING,
    LogLevel.ERROR.value: LogSeverity.ERROR,
    LogLevel.CRITICAL.value: LogSeverity.CRITICAL,
}


def classify_by_rules(templates: list[TemplateSeen]) -> dict[str, Classification]:
    """Levels, then exception, timeout, database, network, auth and resource patterns in the text."""
    found = {}
    for seen in templates:
        level = seen.worst_level
        severity = _LEVEL_SEVERITY.get(level, LogSeverity.INFO)
        category, reason = LogCategory.OTHER.value, f"level {level}"
        text = f"{seen.template} {seen.example}"
        for pattern, kind, floor in _PATTERNS:
            matched = pattern.search(text)
            if matched:
                category = kind
                reason = f"level {level}; mentions {matched.group(0).lower()!r}"
                # a pattern raises the severity only for lines that are already a problem (or resources)
                if level in ("WARNING", "ERROR", "CRITICAL") or kind == "resource":
                    severity = max(severity, LogSeverity(floor), key=lambda s: s.rank)
                break
        if category == LogCategory.OTHER and level in ("ERROR", "CRITICAL"):
            category = LogCategory.APPLICATION.value
        found[seen.template] = Classification(category, severity.value, reason)
    return found


def rules(service: str, templates: list[TemplateSeen]) -> Answer:
    """The rule-based classifier, with the Classifier signature."""
    return Answer(classify_by_rules(templates))


# --- the miners: one per service, kept by the worker --------------------------------------------------------
class _Miners:
    def __init__(self, size: int):
        self._miners: OrderedDict[str, TemplateMiner] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, service: str) -> TemplateMiner:
        with self._lock:
            found = self._miners.pop(service, None) or new_miner()
            self._miners[service] = found
            while len(self._miners) > self._size:
                self._miners.popitem(last=False)
            return found

    def forget(self) -> None:
        with self._lock:
            self._miners.clear()


miners = _Miners(MAX_SERVICES_WITH_MINERS)


# --- the pipeline -------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Report:
    services: int = 0
    lines: int = 0
    batches: int = 0
    new_templates: int = 0
    by_classifier: Counter = field(default_factory=Counter)
    touched: set[str] = field(default_factory=set)

    def as_dict(self) -> dict:
        return {
            "services": self.services,
            "lines": self.lines,
            "batches": self.batches,
            "new_templates": self.new_templates,
            "classified_by": dict(self.by_classifier),
        }


def buffered_lines(now: datetime) -> dict[str, list[tuple]]:
    """Each service's unclassified lines of the buffer window, at most MAX_LOG_BATCH_SIZE, oldest first."""
    since = now - timedelta(seconds=BUFFER_INTERVALS * max(settings.PROCESSING_INTERVAL_SECONDS, 1))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT service, ts, id, level, message FROM (
                SELECT service, ts, id, level, message,
                       row_number() OVER (PARTITION BY service ORDER BY ts DESC, id DESC) AS newest
                FROM {TABLE} WHERE ts >= %s AND ts <= %s AND template_id IS NULL
            ) buffered WHERE newest <= %s ORDER BY service, ts, id
            """,
            [since, now, settings.MAX_LOG_BATCH_SIZE],
        )
        rows = cursor.fetchall()
    by_service: dict[str, list[tuple]] = {}
    for service, ts, id_, level, message in rows:
        by_service.setdefault(service, []).append((ts, id_, level, message))
    return by_service


def process(classifier: Classifier, now: datetime | None = None) -> Report:
    """Classify every service's buffered lines in batches of BATCH_SIZE; answers what was done."""
    now = now or datetime.now(UTC)
    report = Report()
    for service, lines in buffered_lines(now).items():
        report.services += 1
        size = max(settings.BATCH_SIZE, 1)
        for start in range(0, len(lines), size):
            classify_batch(service, lines[start : start + size], classifier, report)
    return report


def classify_batch(service: str, lines: list[tuple], classifier: Classifier, report: Report) -> None:
    """One batch: its templates, the new ones classified (one classifier call), lines pointed at them."""
    miner = miners.get(service)
    clusters = [miner.add_log_message(message[:MAX_TEMPLATE_CHARS])["cluster_id"] for _, _, _, message in lines]
    text_of = {cluster.cluster_id: cluster.get_template()[:MAX_TEMPLATE_CHARS] for cluster in miner.drain.clusters}
    seen: dict[str, TemplateSeen] = {}
    line_templates = []
    for (_, _, level, message), cluster_id in zip(lines, clusters, strict=True):
        template = text_of[cluster_id]
        entry = seen.setdefault(template, TemplateSeen(template, example=message[:500]))
        entry.count += 1
        entry.levels[level] += 1
        line_templates.append(template)
    known = _known(service, list(seen))
    new = [seen[t] for t in seen if t not in known]
    answer = classifier(service, new) if new else Answer({})
    given_by = {template: str(answer.classified_by) for template in answer.classifications}
    missing = [t for t in new if t.template not in answer.classifications]
    if missing:  # whatever the model left out, the rules answer
        answer.classifications.update(classify_by_rules(missing))
    for seen_template in missing:
        given_by[seen_template.template] = ClassifiedBy.RULES.value
    first, last = min(ts for ts, *_ in lines), max(ts for ts, *_ in lines)
    ids = _store(service, seen, known, answer, given_by, (first, last))
    _point_lines(lines, [ids[t] for t in line_templates])
    report.lines += len(lines)
    report.batches += 1
    report.new_templates += len(new)
    report.by_classifier.update(given_by[t.template] for t in new)
    report.touched.add(service)


def _known(service: str, templates: list[str]) -> dict[str, Classification]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT template, category, severity, reason FROM monitoring_logtemplate "
            "WHERE service = %s AND template = ANY(%s)",
            [service, templates],
        )
        return {template: Classification(*rest) for template, *rest in cursor.fetchall()}


def _store(
    service: str,
    seen: dict[str, TemplateSeen],
    known: dict[str, Classification],
    answer: Answer,
    given_by: dict[str, str],
    seen_between: tuple[datetime, datetime],
) -> dict[str, int]:
    """Upsert the batch's templates (new ones with their classification, known ones counted): ids by text."""
    templates = list(seen)
    verdicts = [known.get(t) or answer.classifications[t] for t in templates]
    # a known template keeps its stored classification: these values only fill a row inserted meanwhile
    by = [given_by.get(t, ClassifiedBy.RULES.value) for t in templates]
    models = [answer.model if by_ == ClassifiedBy.GROQ else "" for by_ in by]
    first, last = seen_between
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO monitoring_logtemplate AS t (service, template, category, severity, reason, classified_by,
                model, count, first_seen, last_seen, classified_at)
            SELECT %s, v.template, v.category, v.severity, v.reason, v.classified_by, v.model, v.count, %s, %s, now()
            FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[])
                AS v(template, category, severity, reason, classified_by, model, count)
            ON CONFLICT (service, template) DO UPDATE
                SET count = t.count + excluded.count, last_seen = greatest(t.last_seen, excluded.last_seen)
            RETURNING template, id
            """,
            [
                service,
                first,
                last,
                templates,
                [v.category for v in verdicts],
                [v.severity for v in verdicts],
                [v.reason[:1000] for v in verdicts],
                by,
                models,
                [seen[t].count for t in templates],
            ],
        )
        return dict(cursor.fetchall())


def _point_lines(lines: list[tuple], template_ids: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {TABLE} l SET template_id = v.template_id
            FROM unnest(%s::timestamptz[], %s::bigint[], %s::bigint[]) AS v(ts, id, template_id)
            WHERE l.ts = v.ts AND l.id = v.id
            """,
            [[line[0] for line in lines], [line[1] for line in lines], template_ids],
        )


def forget_old_templates(now: datetime | None = None) -> int:
    """Templates unseen for RAW_RETENTION_DAYS go: their lines are gone too."""
    now = now or datetime.now(UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM monitoring_logtemplate WHERE last_seen < %s",
            [now - timedelta(days=settings.RAW_RETENTION_DAYS)],
        )
        return cursor.rowcount


# --- reading it back ----------------------------------------------------------------------------------------
def classified_counts(since: datetime, service: str | None = None) -> dict[tuple[str | None, str], dict]:
    """Per server and service: lines since ``since`` per classified severity and category, the worst templates."""
    sql = (
        f"SELECT l.server_id, l.service, t.id, t.template, t.category, t.severity, t.reason, count(*) FROM {TABLE} l "
        "JOIN monitoring_logtemplate t ON t.id = l.template_id WHERE l.ts >= %s"
    )
    params: list = [since]
    if service is not None:
        sql += " AND l.service = %s"
        params.append(service)
    with connection.cursor() as cursor:
        cursor.execute(sql + " GROUP BY 1, 2, 3, 4, 5, 6, 7", params)
        rows = cursor.fetchall()
    found: dict[tuple[str | None, str], dict] = {}
    for server_id, name, template_id, template, category, severity, reason, count in rows:
        summary = found.setdefault(
            (str(server_id) if server_id else None, name),
            {"lines": 0, "by_severity": Counter(), "by_category": Counter(), "templates": []},
        )
        summary["lines"] += count
        summary["by_severity"][severity] += count
        summary["by_category"][category] += count
        summary["templates"].append(
            {
                "template_id": template_id,
                "template": template,
                "category": category,
                "severity": severity,
                "reason": reason,
                "count": count,
            }
        )
    for summary in found.values():
        summary["templates"].sort(key=lambda t: (-LogSeverity(t["severity"]).rank, -t["count"]))
        summary["templates"] = summary["templates"][:5]
        summary["by_severity"] = dict(summary["by_severity"])
        summary["by_category"] = dict(summary["by_category"])
    return found


def for_templates(service_templates: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """The stored classification of (service, template) pairs, e.g. the analytics' error patterns."""
    if not service_templates:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT service, template, id, category, severity, reason, classified_by FROM monitoring_logtemplate "
            "WHERE (service, template) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
            [[s for s, _ in service_templates], [t for _, t in service_templates]],
        )
        return {
            (service, template): {
                "template_id": id_,
                "category": category,
                "severity": severity,
                "reason": reason,
                "classified_by": by,
            }
            for service, template, id_, category, severity, reason, by in cursor.fetchall()
        }
