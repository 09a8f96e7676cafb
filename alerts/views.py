"""The alert pages under /console/alerts: the list by state, one alert, acknowledge and silence.

Server-rendered, login required, in the console's "dashboards" namespace
(config/urls.py joins these pages with monitoring's).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from alerts.choices import OPEN_STATES, AlertState
from alerts.models import Alert, Analysis, Silence
from servers.permissions import may


def _alerts() -> QuerySet[Alert]:
    return Alert.objects.select_related("rule", "server", "acknowledged_by")


@login_required
@require_GET
def alert_list(request: HttpRequest) -> HttpResponse:
    """Alerts by state: firing, pending, silenced (open but muted), resolved."""
    tab = request.GET.get("state") or "firing"
    alerts = _alerts()
    now = timezone.now()
    silences = list(Silence.objects.active(now))
    open_alerts = list(alerts.filter(state__in=OPEN_STATES).order_by("-started_at")[:500])
    muted = {a.pk: a.muted_by(silences, now) for a in open_alerts}
    buckets = {
        "firing": [a for a in open_alerts if a.state == AlertState.FIRING and not muted[a.pk]],
        "pending": [a for a in open_alerts if a.state == AlertState.PENDING and not muted[a.pk]],
        "silenced": [a for a in open_alerts if muted[a.pk]],
    }
    resolved = alerts.filter(state=AlertState.RESOLVED, resolved_at__gte=now - timedelta(days=7))
    counts = {name: len(items) for name, items in buckets.items()}
    counts["resolved"] = resolved.count()
    rows = buckets.get(tab) if tab in buckets else list(resolved.order_by("-resolved_at")[:200])
    for alert in rows:
        alert.muted_reason = muted.get(alert.pk, "")
    return render(
        request,
        "alerts/alerts.html",
        {
            "tab": tab,
            "rows": rows,
            "tabs": [(name, counts.get(name, 0)) for name in ("firing", "pending", "silenced", "resolved")],
        },
    )


def _alert_or_404(alert_id: int) -> Alert:
    return get_object_or_404(_alerts(), pk=alert_id)


@login_required
@require_GET
def alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    """One alert: its timeline, the chart around it and the analysis."""
    alert = _alert_or_404(alert_id)
    analysis = Analysis.objects.filter(alert=alert).order_by("-created_at").first()
    start = alert.started_at - timedelta(minutes=30)
    end = (alert.resolved_at or timezone.now()) + timedelta(minutes=5)
    return render(
        request,
        "alerts/alert_detail.html",
        {
            "alert": alert,
            "transitions": list(alert.transitions.all()),
            "deliveries": list(alert.deliveries.select_related("channel")[:20]),
            "analysis": analysis,
            "muted": alert.muted_by(),
            "chart_from": int(start.timestamp()),
            "chart_to": int(end.timestamp()),
        },
    )


def _back(request: HttpRequest, default: str):
    """Back to the page the form was on, when ``next`` points into this console; else ``default``."""
    target = request.POST.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(target if safe else default)


@login_required
@require_POST
def alert_acknowledge(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = _alert_or_404(alert_id)
    changed = alert.acknowledge(request.user)
    if request.headers.get("HX-Request"):  # the row itself says so
        return render(request, "alerts/_alert_row.html", {"alert": alert, "tab": request.POST.get("tab", "")})
    if changed:
        messages.success(request, f"Acknowledged: {alert.rule.name} on {alert.server or 'the fleet'}.")
    return _back(request, reverse("dashboards:alert", args=[alert.pk]))


SILENCE_CHOICES = {"1h": 3600, "4h": 4 * 3600, "24h": 86400}


@login_required
@require_POST
def alert_silence(request: HttpRequest, alert_id: int) -> HttpResponse:
    """Silence notifications of alerts with this alert's labels for 1h, 4h or 24h; the alert stays visible."""
    alert = _alert_or_404(alert_id)
    if not may(request.user, "alerts.add_silence"):
        raise PermissionDenied("silencing needs staff or the permission alerts.add_silence")
    seconds = SILENCE_CHOICES.get(request.POST.get("duration", "1h"))
    if seconds is None:
        messages.error(request, "Choose a silence of 1h, 4h or 24h.")
        return _back(request, reverse("dashboards:alert", args=[alert.pk]))
    matchers = dict(alert.labels or {}) or {"alertname": alert.rule.name}
    silence = Silence(
        matchers=matchers,
        ends_at=timezone.now() + timedelta(seconds=seconds),
        comment=(request.POST.get("comment") or f"silenced from the console for {request.POST.get('duration', '1h')}")[
            :1000
        ],
        created_by=request.user,
    )
    try:
        silence.check_allowed(request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _back(request, reverse("dashboards:alert", args=[alert.pk]))
    silence.save()
    messages.success(request, f"Silenced {alert.rule.name} for {request.POST.get('duration', '1h')}.")
    return _back(request, reverse("dashboards:alert", args=[alert.pk]))
