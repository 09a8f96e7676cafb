"""Admin for the inventory: servers with their tokens; issue, revoke, disable.

A token's secret is shown once, on the page after it is issued (carried there in
the server-side session, never in a cookie), and never stored (only its SHA-256).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from servers import enrolment, registry
from servers.auth import token_cache
from servers.choices import TokenKind
from servers.models import AgentToken, Server


def _forget_cached_identities() -> None:
    # Revocations and disabled servers take effect now in this process (elsewhere within TOKEN_CACHE_SECONDS).
    token_cache.clear()
    registry.forget()


# Issued secrets wait in the (server-side) session for the one page that shows them, which removes them.
# Never in a message: the messages framework may carry it in a cookie, i.e. through every proxy and log.
SHOW_ONCE_KEY = "servers.tokens_to_show_once"


def _show_once(request: HttpRequest, what: str, token: AgentToken, raw: str, install: str = "") -> None:
    """``install``: the line that installs the agent with this token (it carries the secret too)."""
    waiting = request.session.get(SHOW_ONCE_KEY, [])
    waiting.append({"what": what, "prefix": token.prefix, "raw": raw, "install": install})
    request.session[SHOW_ONCE_KEY] = waiting


def _to_the_issued_page() -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("admin:servers_agenttoken_issued"))


class AgentTokenInline(admin.TabularInline):
    model = AgentToken
    extra = 0
    fields = ("kind", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("kind", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # tokens are issued by the "Issue an agent token" action, which shows the secret


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    list_display = (
        "hostname",
        "kind",
        "environment",
        "owner_team",
        "ip_address",
        "status_display",
        "last_seen",
        "active",
    )
    list_filter = ("active", "kind", "environment", "owner_team")
    search_fields = ("hostname", "ip_address", "external_id")
    readonly_fields = ("id", "status_display", "last_seen", "created_at", "updated_at")
    raw_id_fields = ("depends_on",)
    inlines = [AgentTokenInline]
    actions = ["issue_agent_token", "revoke_tokens", "disable_servers", "enable_servers"]
    show_full_result_count = False
    list_per_page = 100

    @admin.display(description="status")
    def status_display(self, server: Server) -> str:
        return server.status.label

    @admin.action(description="Issue an agent token and its install line (shown once)", permissions=["change"])
    def issue_agent_token(self, request: HttpRequest, queryset: QuerySet[Server]) -> HttpResponseRedirect:
        url = enrolment.console_url(request)
        for server in queryset[:20]:
            token, raw = AgentToken.issue(TokenKind.AGENT, server=server, name=f"issued by {request.user} in admin")
            install = enrolment.install_line(url, raw, server.hostname)
            _show_once(request, f"Agent token for {server.hostname}", token, raw, install=install)
        return _to_the_issued_page()

    @admin.action(description="Revoke all tokens of the selected servers", permissions=["change"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[Server]) -> None:
        count = AgentToken.objects.filter(server__in=queryset, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        _forget_cached_identities()
        messages.success(request, f"Revoked {count} token(s).")

    @admin.action(description="Disable: refuse their writes", permissions=["change"])
    def disable_servers(self, request: HttpRequest, queryset: QuerySet[Server]) -> None:
        count = queryset.filter(active=True).update(active=False, updated_at=timezone.now())
        _forget_cached_identities()
        messages.success(request, f"Disabled {count} server(s); their agents get 403 until enabled.")

    @admin.action(description="Enable: accept their writes again", permissions=["change"])
    def enable_servers(self, request: HttpRequest, queryset: QuerySet[Server]) -> None:
        count = queryset.filter(active=False).update(active=True, updated_at=timezone.now())
        _forget_cached_identities()
        messages.success(request, f"Enabled {count} server(s).")

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        _forget_cached_identities()


class IssueTokenForm(forms.ModelForm):
    class Meta:
        model = AgentToken
        fields = ("kind", "server", "user", "name", "read_only")

    def clean(self):
        data = super().clean() or {}
        if self.instance.pk is None:
            kind = data.get("kind")
            if kind == TokenKind.AGENT and not data.get("server"):
                self.add_error("server", "an agent token writes for one server: pick it")
            if kind == TokenKind.USER and not data.get("user"):
                self.add_error("user", "a person's token belongs to a user: pick them")
            if kind != TokenKind.USER and data.get("read_only"):
                self.add_error("read_only", "only a person's token can be read-only; agent tokens only write")
        return data


@admin.register(AgentToken)
class AgentTokenAdmin(admin.ModelAdmin):
    """Adding a token here issues it: pick the kind and its server (agent) or person (user)."""

    form = IssueTokenForm

    list_display = (
        "prefix",
        "kind",
        "read_only",
        "server",
        "user",
        "name",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("kind", "read_only", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("server", "user")
    search_fields = ("prefix", "name", "server__hostname", "user__username")
    autocomplete_fields = ("server",)
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # an issued token changes only its note; revoke it to stop it
            return (*self.readonly_fields, "kind", "server", "user", "read_only")
        return self.readonly_fields

    def get_urls(self):
        issued = path("issued/", self.admin_site.admin_view(self.issued_view), name="servers_agenttoken_issued")
        return [issued, *super().get_urls()]

    def issued_view(self, request: HttpRequest) -> TemplateResponse:
        """The secrets just issued, once: reading them removes them from the session."""
        tokens = request.session.pop(SHOW_ONCE_KEY, [])
        context = {**self.admin_site.each_context(request), "title": "Issued tokens", "tokens": tokens}
        return TemplateResponse(request, "admin/servers/issued_tokens.html", context)  # admin_view: never cached

    def response_add(self, request: HttpRequest, obj, post_url_continue=None) -> HttpResponseRedirect:
        return _to_the_issued_page()

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[AgentToken]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        _forget_cached_identities()
        messages.success(request, f"Revoked {count} token(s).")

    def save_model(self, request, obj: AgentToken, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        owner: dict[str, Any] = {"server": obj.server} if obj.kind == TokenKind.AGENT else {}
        if obj.kind == TokenKind.USER:
            owner = {"user": obj.user}
        token, raw = AgentToken.issue(obj.kind, name=obj.name, read_only=obj.read_only, **owner)
        obj.pk = token.pk
        obj.prefix, obj.digest, obj.created_at = token.prefix, token.digest, token.created_at
        _show_once(request, f"{token.get_kind_display()} token", token, raw)
