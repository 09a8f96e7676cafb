"""What the model is asked: a system prompt with the answer's shape, and the evidence pack."""

from __future__ import annotations

import orjson

SYSTEM = """You are the on-call assistant of a server monitoring console. You receive an evidence pack \
(JSON) about a time window: the alert rule and alert when there is one, each affected metric series \
against its trailing baseline, the most frequent log templates with sample error lines, evaluated \
events with their reasons, docker events and agents' local alerts.

Explain to the on-call person what happened and what to do. Ground every statement in the evidence: \
quote hosts, series, numbers and log templates from it; never invent any. When the evidence is thin \
or contradictory, say so and lower your confidence.

Reply with one JSON object and nothing else, with exactly these keys:
- "analysis": string, 2 to 5 plain sentences: what happened, the likely cause, the impact.
- "severity": "NORMAL", "WARNING" or "CRITICAL".
- "key_findings": array of 1 to 8 short strings, each citing the evidence.
- "recommendations": array of 1 to 6 concrete actions, most urgent first.
- "confidence": number from 0 to 1."""


def messages(pack: dict, focus_areas: list[str] | None = None) -> list[dict]:
    focus = ", ".join(focus_areas or []) or "none (look at everything)"
    evidence = orjson.dumps(pack).decode()
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Focus areas: {focus}\n\nEvidence pack:\n{evidence}"},
    ]


def correction(previous: str, reason: str) -> list[dict]:
    """The follow-up turn after an invalid answer: what was wrong, and the shape again."""
    return [
        {"role": "assistant", "content": previous[:2000]},
        {
            "role": "user",
            "content": f"That answer was not usable: {reason}. Reply again with only the JSON object "
            "with the keys analysis, severity, key_findings, recommendations and confidence.",
        },
    ]
