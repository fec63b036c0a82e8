"""Pruning the metric tables: stream-window rows go after the retention, rollups stay."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import CommunityEngagement, PostEngagement
from analytics.services.metrics import engagement_windows_prune

pytestmark = pytest.mark.django_db


def rows_at(start, grain: str) -> None:
    PostEngagement.objects.create(
        post_id=1, community_id=1, grain=grain, window_start=start,
        window_end=start + timedelta(minutes=1), views=1, updated_at=start,
    )  # fmt: skip
    CommunityEngagement.objects.create(
        community_id=1, grain=grain, window_start=start,
        window_end=start + timedelta(minutes=1), views=1, updated_at=start,
    )  # fmt: skip


def test_old_window_rows_are_pruned_and_rollups_kept(settings):
    settings.ANALYTICS_WINDOW_RETENTION_HOURS = 24
    now = timezone.now().replace(second=0, microsecond=0)
    old, recent = now - timedelta(hours=25), now - timedelta(hours=23)
    for start, grain in ((old, "window"), (recent, "window"), (old, "hour"), (old, "day")):
        rows_at(start, grain)

    assert engagement_windows_prune(chunk_size=1) == 2

    for model in (PostEngagement, CommunityEngagement):
        kept = set(model.objects.values_list("grain", "window_start"))
        assert kept == {("window", recent), ("hour", old), ("day", old)}
