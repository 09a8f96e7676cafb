from django.contrib import admin

from servers.models import AgentToken, Server


class AgentTokenInline(admin.TabularInline):
    model = AgentToken
    extra = 0
    fields = ("kind", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("kind", "prefix", "created_at", "last_used_at", "revoked_at")
    can_delete = False
    show_change_link = True


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    list_display = ("hostname", "kind", "environment", "owner_team", "ip_address", "last_seen", "active")
    list_filter = ("kind", "environment", "owner_team", "active")
    search_fields = ("hostname", "ip_address", "external_id")
    readonly_fields = ("id", "last_seen", "created_at", "updated_at")
    inlines = [AgentTokenInline]
    show_full_result_count = False


@admin.register(AgentToken)
class AgentTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "kind", "server", "user", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = ("kind",)
    search_fields = ("prefix", "name", "server__hostname", "user__username")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    exclude = ("digest",)
