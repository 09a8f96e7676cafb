"""Admin for the data: the series dictionary and latest snapshots (samples, logs and events are read in the console).

Lists stay fast on big tables: no full counts (a bounded count says "10,000+"), related rows
joined in the list query, and the stored data is read-only here.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from monitoring.models import Annotation, Series, Snapshot


class BoundedCountPaginator(Paginator):
    """Counts at most LIMIT rows: a list of millions of rows pages without a full COUNT(*)."""

    LIMIT = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.LIMIT + 1].count() if hasattr(self.object_list, "count") else super().count


class ReadOnly:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Series)
class SeriesAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "server", "metric_type", "name", "labels", "created_at"]
    list_filter = ["metric_type"]
    search_fields = ["name", "metric_type", "server__hostname"]
    list_select_related = ["server"]
    show_full_result_count = False
    paginator = BoundedCountPaginator
    raw_id_fields = ["server"]


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["server", "ts", "received_at", "score"]
    search_fields = ["server__hostname"]
    list_select_related = ["server"]
    show_full_result_count = False
    paginator = BoundedCountPaginator


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    """Deploys and notes on the timelines and charts (POST /api/v1/annotations)."""

    list_display = ["ts", "kind", "title", "server", "author"]
    list_filter = ["kind"]
    search_fields = ["title", "server__hostname"]
    list_select_related = ["server"]
    raw_id_fields = ["server"]
