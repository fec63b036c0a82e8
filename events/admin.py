from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.text import Truncator

from core.admin import ReadOnlyAdmin
from events.models import OutboxEvent
from events.selectors import outbox_lag
from events.services import outbox_retry_failed


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    """The outbox, read-only: rows are written by services and the publisher only. The list
    page shows the lag (pending count, oldest pending age) and failed rows; failed rows can be
    put back to pending once their cause is fixed."""

    change_list_template = "admin/events/outboxevent/change_list.html"
    list_display = (
        "id",
        "event_type",
        "key",
        "status_badge",
        "attempts",
        "created_at",
        "published_at",
        "kafka_partition",
        "kafka_offset",
        "error_short",
    )
    list_filter = ("status", "event_type")
    search_fields = ("=event_id", "=key")
    ordering = ("-id",)
    list_per_page = 50
    actions = ("retry_failed",)
    readonly_fields = [field.name for field in OutboxEvent._meta.fields]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "outbox_lag": outbox_lag()}
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: OutboxEvent) -> str:
        colour = {"pending": "#b58900", "published": "#2e7d32", "failed": "#c62828"}[obj.status]
        return format_html('<strong style="color: {}">{}</strong>', colour, obj.status)

    @admin.display(description="last error")
    def error_short(self, obj: OutboxEvent) -> str:
        return Truncator(obj.last_error).chars(80)

    @admin.action(description="Retry selected failed events (back to pending)")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> None:
        count = outbox_retry_failed(ids=queryset.values_list("id", flat=True))
        self.message_user(request, f"{count} failed event(s) put back to pending.", messages.INFO)
