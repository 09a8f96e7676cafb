"""Admin for rules, alerts, silences, channels (with "send test notification"), deliveries, notifications."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from alerts.analysis.admin import AnalysisAdmin, analyse_alerts
from alerts.choices import ChannelKind
from alerts.models import (
    Alert,
    AlertRule,
    AlertTransition,
    Analysis,
    Delivery,
    Notification,
    NotificationChannel,
    NotificationPolicy,
    Page,
    Silence,
)
from alerts.outbound import RefusedDestination, check_destination


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "severity", "enabled", "scope", "threshold", "for_seconds", "last_evaluated_at"]
    list_filter = ["kind", "severity", "enabled", "scope"]
    search_fields = ["name", "metric_type", "metric_name", "service"]
    readonly_fields = ["builtin", "created_by", "created_at", "updated_at", "last_evaluated_at", "last_error"]
    raw_id_fields = ["server"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "enabled", "severity", "builtin"]}),
        ("Metric", {"fields": ["metric_type", "metric_name", "metric_labels", "aggregate"]}),
        (
            "Condition",
            {
                "fields": [
                    "comparison",
                    "threshold",
                    "recovery_threshold",
                    "window_seconds",
                    "for_seconds",
                    "trailing_seconds",
                ]
            },
        ),  # fmt: skip
        ("Logs and events", {"fields": ["service", "pattern", "log_level", "event_status"]}),
        ("Notifications", {"fields": ["policy"]}),
        ("Scope", {"fields": ["scope", "server", "server_labels"]}),
        ("What the alert says", {"fields": ["labels", "summary", "description", "runbook_url"]}),
        ("Record", {"fields": ["created_by", "created_at", "updated_at", "last_evaluated_at", "last_error"]}),
    ]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class TransitionInline(admin.TabularInline):
    model = AlertTransition
    extra = 0
    can_delete = False
    readonly_fields = ["from_state", "to_state", "value", "at", "note"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    readonly_fields = ["channel", "kind", "attempt", "status", "response_code", "error", "latency_ms", "created_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["__str__", "state", "severity", "server", "value", "started_at", "fired_at", "acknowledged_by"]
    list_filter = ["state", "severity", "flapping", "rule"]
    search_fields = ["summary", "fingerprint", "server__hostname"]
    list_select_related = ["rule", "server", "acknowledged_by"]
    show_full_result_count = False  # lists stay fast on big tables: no COUNT(*) of everything
    readonly_fields = [f.name for f in Alert._meta.fields]
    inlines = [TransitionInline, DeliveryInline]
    actions = ["acknowledge", "resolve", analyse_alerts]  # "Analyze with the LLM": alerts/analysis/admin.py

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Resolve selected alerts by hand")
    def resolve(self, request, queryset: QuerySet[Alert]) -> None:
        open_alerts = [alert for alert in queryset if alert.is_open]
        for alert in open_alerts:
            alert.resolve(note=f"resolved by {request.user} in admin")
        self.message_user(request, f"{len(open_alerts)} alert(s) resolved.")

    @admin.action(description="Acknowledge selected alerts")
    def acknowledge(self, request, queryset: QuerySet[Alert]) -> None:
        count = sum(alert.acknowledge(request.user) for alert in queryset)
        self.message_user(request, f"{count} alert(s) acknowledged.")


class SilenceForm(forms.ModelForm):
    match_all = forms.BooleanField(
        required=False,
        help_text="Staff only: yes, these matchers (only negations or wildcards) are meant to mute every alert.",
    )

    class Meta:
        model = Silence
        fields = ["matchers", "starts_at", "ends_at", "comment"]

    def clean(self):
        data = super().clean()
        if not self.errors:
            for name in ("matchers", "starts_at", "ends_at"):
                setattr(self.instance, name, data.get(name))
            try:
                self.instance.check_allowed(self.author, match_all=data.get("match_all", False))
            except ValidationError as exc:
                for field, problems in exc.message_dict.items():
                    self.add_error(field, problems)
        return data


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    form = SilenceForm
    list_display = ["__str__", "starts_at", "ends_at", "active", "comment", "created_by"]
    readonly_fields = ["created_by", "created_at"]
    actions = ["expire"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"author": request.user})

    @admin.display(boolean=True)
    def active(self, silence: Silence) -> bool:
        return silence.is_active()

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Expire selected silences now", permissions=["change"])
    def expire(self, request, queryset: QuerySet[Silence]) -> None:
        queryset.filter(ends_at__gt=timezone.now()).update(ends_at=timezone.now())


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "target", "enabled", "min_severity", "send_resolved", "provisioned"]
    list_filter = ["kind", "enabled"]
    readonly_fields = ["provisioned", "created_at"]
    actions = ["send_test_notification"]

    @admin.action(description="Send test notification")
    def send_test_notification(self, request, queryset: QuerySet[NotificationChannel]) -> None:
        """Queued like any message, through the same guard; a refused URL is said at once, not queued."""
        from alerts import tasks

        queued = 0
        for channel in queryset:
            if channel.kind in (ChannelKind.SLACK, ChannelKind.WEBHOOK):
                try:
                    check_destination(str(channel.config.get("url", "")))
                except RefusedDestination as exc:
                    self.message_user(request, f"{channel.name}: not sent: {exc}", messages.ERROR)
                    continue
            tasks.deliver.delay(channel.pk, None, "test")
            queued += 1
        if queued:
            self.message_user(
                request,
                f"Test notification queued for {queued} channel(s); see Deliveries for how it went.",
                messages.SUCCESS,
            )


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "channel", "kind", "attempt", "status", "response_code", "latency_ms", "alert"]
    list_filter = ["status", "kind", "channel"]
    list_select_related = ["channel", "alert__rule", "alert__server"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "title", "level", "source", "read"]
    list_filter = ["level", "read"]
    search_fields = ["title", "message"]
    raw_id_fields = ["alert"]
    show_full_result_count = False


admin.site.register(Analysis, AnalysisAdmin)


@admin.register(NotificationPolicy)
class NotificationPolicyAdmin(admin.ModelAdmin):
    """Repeat until acknowledged, escalate to a second channel (docs/less-noise.md)."""

    list_display = ["name", "is_default", "repeat_minutes", "escalate_after_minutes", "escalate_to"]


@admin.register(Page)
class PageAdmin(admin.ModelAdmin):
    """Every message about an alert and what became of it: sent, suppressed, folded into a digest."""

    list_display = ["at", "kind", "outcome", "dispatched_at", "rule", "alert", "reason"]
    list_filter = ["outcome", "kind"]
    list_select_related = ["rule", "alert"]
    raw_id_fields = ["rule", "alert", "digest"]
    show_full_result_count = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
