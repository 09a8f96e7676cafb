"""Seed 004's AI log classifier: a batch's new log templates to Groq, a category, severity and reason back.

monitoring/log_classification.py does the buffering, mining and storing; this
module is the classifier it is handed. One Groq call per batch at most, with
the batch's new templates (never every line); the rules answer instead when
the model is off or has no key, when the background budget is spent or Groq is
cooling down (alerts/analysis/spend.py), and for anything the model left out
or answered wrongly. After a batch, each touched service's health (with its
classification) goes out as a ``health_update`` frame.
"""

from __future__ import annotations

import logging

import orjson
from celery import shared_task
from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alerts.analysis import client, spend
from alerts.analysis.prompt import untrusted_messages
from monitoring import log_classification, service_health
from monitoring.choices import ClassifiedBy, LogCategory, LogSeverity
from monitoring.live.publisher import publish_health
from monitoring.log_classification import Answer, Classification, TemplateSeen

log = logging.getLogger(__name__)

# the most templates one call carries; the rest of a batch is answered by the rules
MAX_TEMPLATES_PER_CALL = 50

SYSTEM = f"""You classify log templates of one service for an on-call team. Each template is a log line \
with its varying parts replaced by <*>, with how often it came in this batch, at which levels, and one \
example line.

For every template, answer its category, its severity and a short reason (one sentence, citing the text).
- category: one of {", ".join(LogCategory.values)}
- severity: one of {", ".join(LogSeverity.values)} (critical: the service is failing or about to; error: a \
request or job failed; warning: degraded or suspicious; info: normal operation)

Reply with one JSON object and nothing else: \
{{"classifications": [{{"id": <the template's id>, "category": "...", "severity": "...", "reason": "..."}}]}}"""


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: int
    category: str
    severity: str
    reason: str = Field(default="", max_length=2000)


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    classifications: list[_Item]


def messages(service: str, templates: list[TemplateSeen]) -> list[dict]:
    shown = [
        {
            "id": number,
            "template": seen.template[:500],
            "count": seen.count,
            "levels": dict(seen.levels),
            "example": seen.example[:300],
        }
        for number, seen in enumerate(templates, start=1)
    ]
    # log lines are written by anyone's software: fenced as untrusted data, secrets redacted
    return untrusted_messages(SYSTEM, "Log templates to classify:", {"service": service, "templates": shown})


def parse(content: str, templates: list[TemplateSeen]) -> dict[str, Classification]:
    """The usable classifications in the model's answer; wrong or missing items are left to the rules."""
    try:
        reply = _Reply.model_validate(orjson.loads(content))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        log.warning("log classification: unusable answer: %s", str(exc)[:300])
        return {}
    found = {}
    for item in reply.classifications:
        category, severity = item.category.lower(), item.severity.lower()
        if not 1 <= item.id <= len(templates) or severity not in LogSeverity.values:
            continue
        if category not in LogCategory.values:
            category = LogCategory.OTHER.value
        found[templates[item.id - 1].template] = Classification(category, severity, item.reason[:1000])
    return found


def groq_or_rules(service: str, templates: list[TemplateSeen]) -> Answer:
    """The Classifier handed to the pipeline: Groq for up to MAX_TEMPLATES_PER_CALL templates, else the rules."""
    if not client.is_configured():
        return log_classification.rules(service, templates)
    asked = templates[:MAX_TEMPLATES_PER_CALL]
    prompt = messages(service, asked)
    estimate = spend.estimate_tokens(prompt[0]["content"] + prompt[1]["content"]) + settings.GROQ_MAX_TOKENS
    reason = spend.held_back(estimate)
    if reason:
        log.info("log classification of %s by rules: %s", service, reason)
        return log_classification.rules(service, templates)
    try:
        completion = client.complete(prompt, max_retries=0)
    except client.LLMUnavailable as exc:
        if exc.status == 429:
            seconds = spend.cool_down(exc.retry_after)
            log.warning("log classification: Groq answered 429; rules for the next %.0f s", seconds)
        else:
            log.warning("log classification: the model could not answer: %s", exc)
        return log_classification.rules(service, templates)
    except client.GenerationRejected as exc:
        log.warning("log classification: %s", exc)
        return log_classification.rules(service, templates)
    spend.charge(completion.prompt_tokens + completion.completion_tokens)
    found = parse(completion.content, asked)
    if not found:
        return log_classification.rules(service, templates)
    return Answer(found, ClassifiedBy.GROQ.value, completion.model)


@shared_task(name="alerts.analysis.classify_logs", ignore_result=True)
def classify_logs() -> dict:
    """Beat, every PROCESSING_INTERVAL_SECONDS: classify the buffered lines, then tell the live views."""
    if not settings.AI_CLASSIFICATION_ENABLED:
        return {"off": True}
    report = log_classification.process(groq_or_rules)
    for service in sorted(report.touched):
        for health in service_health.services_health(service=service):  # each server's instance
            publish_health(health.as_dict())
    if report.new_templates:
        log.info("log classification: %s", report.as_dict())
    log_classification.forget_old_templates()
    return report.as_dict()
