"""The rule-based analysis: the same evidence pack, explained without a model.

Used when the LLM is disabled, has no key, or fails. Deterministic: the same
pack gives the same analysis, word for word.
"""

from __future__ import annotations

from collections import Counter

from alerts.analysis.answer import AnalysisResult

Z_WARNING = 3.0
Z_CRITICAL = 6.0
CHANGE_WARNING_PCT = 50.0
BAD_DOCKER_ACTIONS = {"die", "oom", "kill", "restart", "health_status: unhealthy"}
ERROR_RATE_WARNING = 0.05

# Words in a series name -> what a person should look at first.
ADVICE = (
    (
        ("cpu", "load"),
        "Find what is using the CPU on {server} (process list, recent deploys, batch jobs); scale out or throttle it.",
    ),
    (
        ("mem", "ram", "swap"),
        "Check memory on {server} for a leak or an oversized cache; "
        "restart the worst process or add memory before the OOM killer acts.",
    ),
    (
        ("disk", "fs", "inode", "filesystem"),
        "Free space on {server} (old logs, images, temp files) or grow the volume before writes fail.",
    ),
    (
        ("latency", "response", "duration"),
        "Trace slow requests on {server}: compare with the error logs "
        "and the dependencies' health (database, upstream APIs).",
    ),
    (
        ("net", "rx", "tx", "conn"),
        "Check network traffic and connections on {server} for a flood, a retry storm or a saturated link.",
    ),
)
GENERIC_ADVICE = "Look at {series} on {server}: it moved well outside its recent range."


def analyse(pack: dict) -> AnalysisResult:
    findings: list[str] = []
    recommendations: list[str] = []
    level = 0  # 0 NORMAL, 1 WARNING, 2 CRITICAL

    alert = pack.get("alert")
    if alert:
        findings.append(_alert_finding(alert, pack.get("rule") or {}))
        level = max(level, 2 if str(alert.get("severity", "")).lower() == "critical" else 1)

    for item in _moved_series(pack.get("series") or []):
        findings.append(_series_finding(item))
        z = abs(item.get("z") or 0)
        level = max(level, 2 if z >= Z_CRITICAL else 1)
        advice = _series_advice(item)
        if "CPU" in advice:
            advice += _busiest_process(pack, item["server"])
        _add(recommendations, advice)

    counts = pack.get("log_counts") or {}
    total = sum(counts.values())
    errors = counts.get("ERROR", 0) + counts.get("CRITICAL", 0)
    if errors:
        rate = errors / total if total else 0
        findings.append(f"{errors} error lines of {total} log lines ({rate:.1%}) in the window.")
        level = max(level, 2 if counts.get("CRITICAL") else 1 if rate >= ERROR_RATE_WARNING else level)
    for template in (pack.get("log_templates") or [])[:3]:
        services = ", ".join(template.get("services") or []) or "unknown service"
        findings.append(f'{template["count"]}× "{template["template"]}" ({services}).')
        _add(recommendations, f'Investigate "{template["template"]}" in {services}: the most frequent problem line.')

    events = pack.get("events") or []
    if events:
        statuses = Counter(event["status"] for event in events)
        reasons = Counter(reason for event in events for reason in event.get("reasons") or [])
        text = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        top = "; ".join(reason for reason, _ in reasons.most_common(3))
        findings.append(f"Evaluated events: {text}" + (f" — {top}." if top else "."))
        level = max(level, 2 if statuses.get("CRITICAL") else 1)
        for event in events:
            for suggestion in event.get("suggestions") or []:
                _add(recommendations, suggestion)

    docker = pack.get("docker_events") or []
    if docker:
        actions = Counter(_docker_action(event) for event in docker)
        bad = sorted({_container(event) for event in docker if _docker_action(event) in BAD_DOCKER_ACTIONS})
        summary = ", ".join(f"{n}× {action}" for action, n in sorted(actions.items(), key=lambda kv: (-kv[1], kv[0])))
        findings.append(f"Docker events: {summary}" + (f" (containers: {', '.join(bad)})." if bad else "."))
        if bad:
            level = max(level, 1)
            _add(recommendations, "Check the containers that died or restarted (docker logs, exit codes, limits).")

    agent_alerts = pack.get("agent_alerts") or []
    if agent_alerts:
        kinds = Counter(_agent_alert(event) for event in agent_alerts)
        summary = ", ".join(f"{n}× {kind}" for kind, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
        findings.append(f"Agents raised local alerts: {summary}.")
        level = max(level, 1)

    if not findings:
        findings.append("No alert, no unusual series, no error logs and no flagged events in the window.")
        recommendations.append("No action needed; keep watching the dashboards.")
    if not recommendations:
        recommendations.append("Review the findings above with the service owner and watch whether they persist.")

    severity = ("NORMAL", "WARNING", "CRITICAL")[level]
    signals = len(findings) - (1 if alert else 0)
    return AnalysisResult(
        analysis=_summary(severity, findings, pack),
        severity=severity,
        key_findings=findings[:10],
        recommendations=recommendations[:8],
        confidence=0.4 if signals <= 1 else 0.6,
    )


def _moved_series(series: list[dict]) -> list[dict]:
    moved = []
    for item in series:
        z = abs(item.get("z") or 0)
        pct = abs(item.get("change_pct") or 0)
        if item.get("affected") or z >= Z_WARNING or pct >= CHANGE_WARNING_PCT:
            moved.append(item)
    return moved[:5]


def _series_finding(item: dict) -> str:
    window = item["window"]
    text = (
        f"{item['series']} on {item['server']}: mean {window['mean']} "
        f"(min {window['min']}, max {window['max']}, last {window['last']})"
    )
    baseline = item.get("baseline")
    if baseline:
        text += f" against {baseline['mean']} before"
        if item.get("change_pct") is not None:
            text += f" ({item['change_pct']:+g}%)"
    else:
        text += ", no baseline before the window"
    return text + "."


def _series_advice(item: dict) -> str:
    name = item["series"].lower()
    for words, advice in ADVICE:
        if any(word in name for word in words):
            return advice.format(server=item["server"], series=item["series"])
    return GENERIC_ADVICE.format(server=item["server"], series=item["series"])


def _alert_finding(alert: dict, rule: dict) -> str:
    name = rule.get("name") or alert.get("rule") or "an alert rule"
    where = alert.get("server") or "the fleet"
    text = f'Alert "{name}" is {alert.get("status", "firing")} on {where}'
    if alert.get("value") is not None:
        text += f" (value {alert['value']})"
    if alert.get("summary"):
        text += f": {alert['summary']}"
    return text + "."


def _busiest_process(pack: dict, server: str) -> str:
    for snapshot in pack.get("snapshots") or []:
        if snapshot.get("server") == server and snapshot.get("top_processes"):
            top = snapshot["top_processes"][0]
            if top.get("cpu_percent") is not None:
                name, pid = top.get("name"), top.get("pid")
                return f" The busiest process there was {name} (pid {pid}) at {top['cpu_percent']}% CPU."
    return ""


def _agent_alert(event: dict) -> str:
    data = event.get("data")
    if isinstance(data, dict) and data.get("alert"):
        return str(data["alert"])
    return event.get("event_type") or "alert"


def _container(event: dict) -> str:
    data = event.get("data")
    if isinstance(data, dict):
        for key in ("container", "name", "Actor"):
            if data.get(key):
                return str(data[key])[:80]
    return "?"


def _docker_action(event: dict) -> str:
    data = event.get("data")
    if isinstance(data, dict):
        for key in ("action", "Action", "status"):
            if data.get(key):
                return str(data[key])
    return event.get("event_type") or "event"


def _summary(severity: str, findings: list[str], pack: dict) -> str:
    window = pack.get("window") or {}
    minutes = window.get("minutes")
    span = f"the last {minutes:g} minutes" if minutes else "the window"
    head = {
        "NORMAL": f"Nothing in {span} needs attention.",
        "WARNING": f"Some signals in {span} need a look.",
        "CRITICAL": f"Something in {span} needs action now.",
    }[severity]
    return f"{head} Rule-based analysis (no language model): {findings[0]}"


def _add(items: list[str], text: str) -> None:
    if text and text not in items:
        items.append(text)
