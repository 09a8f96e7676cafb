"""Seed 003's LLM-assisted monitoring: WARNING and CRITICAL events get the model's second opinion.

With ENABLE_LLM_MONITORING and a Groq key, a beat task (every
EVENT_REVIEW_INTERVAL_SECONDS) sends the newest unreviewed WARNING and
CRITICAL events of the last hour, EVENT_REVIEW_BATCH_SIZE at a time, in one
call; the model answers a refined severity and a plain explanation for each.
They are stored in the event's ``llm_review``, beside the rule-based verdict,
which they never replace. The background budget and the 429 cooldown
(alerts/analysis/spend.py) hold the calls back; an event then waits for a
later round (and is left unreviewed once older than the hour).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import orjson
from celery import shared_task
from django.conf import settings
from django.db import connection
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alerts.analysis import client, spend
from monitoring.choices import EventStatus
from monitoring.timestamps import iso

log = logging.getLogger(__name__)

LOOKBACK = timedelta(hours=1)
MAX_DATA_CHARS = 1500

SYSTEM = """You review the verdicts of a rule-based event monitor. Each event has its source, type, \
data, and the rules' verdict (status NORMAL/WARNING/CRITICAL, a severity from 0 to 1, and the reasons).

For each event, give your own severity and explain in one to three plain sentences what the data \
shows and whether the rules' verdict is right. Ground every statement in the event's data; say so \
when it is not enough to judge.

Reply with one JSON object and nothing else: \
{"reviews": [{"id": <the event's id>, "severity": "NORMAL" | "WARNING" | "CRITICAL", \
"explanation": "...", "recommendation": "one concrete action, or empty"}]}"""


class _Review(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: int
    severity: str
    explanation: str = Field(min_length=1, max_length=4000)
    recommendation: str = Field(default="", max_length=1000)


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reviews: list[_Review]


def unreviewed(now: datetime, limit: int) -> list[dict]:
    """The newest WARNING/CRITICAL events of the last hour without a review."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ts, id, source, event_type, data, status, severity, reasons FROM monitoring_event "
            "WHERE ts >= %s AND status = ANY(%s) AND llm_review IS NULL ORDER BY ts DESC, id DESC LIMIT %s",
            [now - LOOKBACK, [EventStatus.WARNING.value, EventStatus.CRITICAL.value], limit],
        )
        rows = cursor.fetchall()

    def _json(value):
        return orjson.loads(value) if isinstance(value, str | bytes) else value

    return [
        {
            "ts": ts,
            "id": id_,
            "source": source,
            "event_type": event_type,
            "data": _json(data),
            "status": status,
            "severity": severity,
            "reasons": _json(reasons),
        }
        for ts, id_, source, event_type, data, status, severity, reasons in rows
    ]


def messages(events: list[dict]) -> list[dict]:
    shown = []
    for event in events:
        data = orjson.dumps(event["data"]).decode()
        shown.append(
            {
                "id": event["id"],
                "source": event["source"],
                "event_type": event["event_type"],
                "data": data if len(data) <= MAX_DATA_CHARS else data[:MAX_DATA_CHARS] + "…",
                "rule_verdict": {
                    "status": event["status"],
                    "severity": round(event["severity"], 3),
                    "reasons": event["reasons"],
                },
            }
        )
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": orjson.dumps({"events": shown}).decode()},
    ]


def parse(content: str, events: list[dict], model: str, now: datetime) -> dict[int, dict]:
    """A review per event the model answered well; the others get a note that it did not."""
    by_id = {event["id"]: event for event in events}
    try:
        reply = _Reply.model_validate(orjson.loads(content))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        log.warning("event review: unusable answer: %s", str(exc)[:300])
        reply = _Reply(reviews=[])
    at = iso(now)
    found: dict[int, dict] = {}
    for item in reply.reviews:
        severity = item.severity.upper()
        if item.id in by_id and severity in EventStatus.values:
            found[item.id] = {
                "severity": severity,
                "explanation": item.explanation,
                "recommendation": item.recommendation or None,
                "model": model,
                "reviewed_at": at,
            }
    for id_ in by_id:
        found.setdefault(id_, {"error": "the model gave no usable review of this event", "model": model})
    return found


def store(events: list[dict], reviews: dict[int, dict]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE monitoring_event e SET llm_review = v.review
            FROM unnest(%s::timestamptz[], %s::bigint[], %s::jsonb[]) AS v(ts, id, review)
            WHERE e.ts = v.ts AND e.id = v.id
            """,
            [[e["ts"] for e in events], [e["id"] for e in events], [Jsonb(reviews[e["id"]]) for e in events]],
        )


def review_batch(now: datetime | None = None) -> dict:
    """One round: at most one call for at most EVENT_REVIEW_BATCH_SIZE events."""
    now = now or datetime.now(UTC)
    if not client.is_configured():
        return {"reviewed": 0, "skipped": "the model is off or has no key"}
    events = unreviewed(now, settings.EVENT_REVIEW_BATCH_SIZE)
    if not events:
        return {"reviewed": 0}
    prompt = messages(events)
    reason = spend.held_back(spend.estimate_tokens(prompt[1]["content"] + SYSTEM) + settings.GROQ_MAX_TOKENS)
    if reason:
        return {"reviewed": 0, "waiting": len(events), "skipped": reason}
    try:
        completion = client.complete(prompt, max_retries=0)
    except client.LLMUnavailable as exc:
        if exc.status == 429:
            spend.cool_down(exc.retry_after)
        log.warning("event review: the model could not answer: %s", exc)
        return {"reviewed": 0, "waiting": len(events), "skipped": str(exc)}
    except client.GenerationRejected as exc:
        log.warning("event review: %s", exc)
        completion = None
    if completion is not None:
        spend.charge(completion.prompt_tokens + completion.completion_tokens)
        reviews = parse(completion.content, events, completion.model, now)
    else:
        reviews = parse("", events, settings.GROQ_MODEL, now)
    store(events, reviews)
    unusable = sum("error" in review for review in reviews.values())
    return {"reviewed": len(reviews) - unusable, "unusable": unusable}


@shared_task(name="alerts.analysis.review_events", ignore_result=True)
def review_events() -> dict:
    """Beat, every EVENT_REVIEW_INTERVAL_SECONDS, while ENABLE_LLM_MONITORING."""
    if not settings.ENABLE_LLM_MONITORING:
        return {"reviewed": 0, "skipped": "ENABLE_LLM_MONITORING is off"}
    return review_batch()
