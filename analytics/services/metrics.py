"""Keeping the metric tables' size in check: stream-window rows are pruned after
ANALYTICS_WINDOW_RETENTION_HOURS; hour and day rows are kept."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from analytics.models import CommunityEngagement, EngagementGrain, PostEngagement


def engagement_windows_prune(*, retention_hours: int | None = None, chunk_size: int = 5000) -> int:
    """Delete window rows older than the retention from the post and community tables, in
    short transactions of `chunk_size` rows. Returns how many rows were deleted. The job
    never writes a window again once the watermark has passed it, so nothing comes back."""
    hours = (
        settings.ANALYTICS_WINDOW_RETENTION_HOURS if retention_hours is None else retention_hours
    )
    cutoff = timezone.now() - timedelta(hours=hours)
    deleted = 0
    for model in (PostEngagement, CommunityEngagement):
        old = model.objects.filter(grain=EngagementGrain.WINDOW, window_start__lt=cutoff)
        while ids := list(old.values_list("id", flat=True)[:chunk_size]):
            deleted += model.objects.filter(id__in=ids).delete()[0]
    return deleted
