"""Analyses in the admin: read-only, with the evidence the model saw; "Analyze with the LLM" on alerts.

alerts/admin.py registers ``AnalysisAdmin`` and offers ``analyse_alerts`` on the alerts' list.
"""

from __future__ import annotations

import orjson
from django.contrib import admin, messages
from django.utils.html import format_html

from alerts.analysis import tasks
from alerts.choices import AnalysisStatus, AnalysisTrigger
from alerts.models import Analysis

MAX_PER_ACTION = 20


def _pretty(value) -> str:
    return format_html(
        "<pre style='white-space: pre-wrap'>{}</pre>", orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    )


class AnalysisAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "trigger",
        "alert",
        "status_badge",
        "severity",
        "is_fallback",
        "model",
        "tokens_used",
        "latency_ms",
    )
    list_filter = ("status", "trigger", "is_fallback")
    list_select_related = ("alert__rule", "alert__server")
    show_full_result_count = False
    date_hierarchy = "created_at"
    actions = ["run_again"]
    fields = (
        "status",
        "trigger",
        "alert",
        "requested_by",
        "lookback_minutes",
        "focus_areas",
        "services",
        ("window_start", "window_end"),
        "result_pretty",
        ("is_fallback", "fallback_reason"),
        "error",
        ("model", "attempts", "latency_ms"),
        ("prompt_tokens", "completion_tokens", "tokens_used"),
        "evidence_pretty",
        ("created_at", "finished_at"),
    )
    readonly_fields = tuple(name for item in fields for name in (item if isinstance(item, tuple) else (item,)))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="status")
    def status_badge(self, obj: Analysis) -> str:
        colour = AnalysisStatus(obj.status).colour
        return format_html("<span style='color:{}'>{}</span>", colour, obj.get_status_display())

    @admin.display(description="result")
    def result_pretty(self, obj: Analysis) -> str:
        return _pretty(obj.result)

    @admin.display(description="evidence (what the model saw)")
    def evidence_pretty(self, obj: Analysis) -> str:
        return _pretty(obj.evidence)

    @admin.action(description="Run these analyses again")
    def run_again(self, request, queryset) -> None:
        for old in queryset[:MAX_PER_ACTION]:
            analysis = Analysis(
                alert=old.alert,
                trigger=AnalysisTrigger.ADMIN,
                requested_by=request.user,
                lookback_minutes=old.lookback_minutes,
                focus_areas=old.focus_areas,
                services=old.services,
            )
            _start(analysis)
        self.message_user(request, "Analyses queued; they appear here when done.", messages.SUCCESS)


def _start(analysis: Analysis) -> None:
    analysis.set_window()
    analysis.save()
    tasks.submit(analysis)


@admin.action(description="Analyze with the LLM")
def analyse_alerts(modeladmin, request, queryset) -> None:
    for alert in queryset.select_related("rule")[:MAX_PER_ACTION]:
        _start(Analysis(alert=alert, trigger=AnalysisTrigger.ADMIN, requested_by=request.user))
    modeladmin.message_user(request, "Analyses queued; see Alerts › Analyses.", messages.SUCCESS)
