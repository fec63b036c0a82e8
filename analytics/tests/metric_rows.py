"""Metric rows as the engagement job would leave them, built in Python for tests: actor
window rows, and post and community rows at the window, hour and day grains with the same
semantics as spark_jobs/engagement/sink.py (sums of set values, exact distinct actors)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from analytics.models import CommunityEngagement, EngagementActorWindow, PostEngagement

POST_COUNTS = ("views", "likes", "unlikes", "comments", "shares")
COMMUNITY_ONLY = ("posts_created", "members_joined", "members_left")
COUNT_NAMES = (*POST_COUNTS, *COMMUNITY_ONLY)


@dataclass(frozen=True)
class Activity:
    """What one actor did in one minute, on a post (post_id) or in a community (post_id 0)."""

    minute: datetime
    community_id: int
    actor_id: int
    post_id: int = 0
    views: int = 0
    likes: int = 0
    unlikes: int = 0
    comments: int = 0
    shares: int = 0
    posts_created: int = 0
    members_joined: int = 0
    members_left: int = 0

    @property
    def score(self) -> Decimal:
        return (
            Decimal("0.1") * self.views
            + (self.likes - self.unlikes)
            + 2 * self.comments
            + 3 * self.shares
        )


def _buckets(minute: datetime) -> list[tuple[str, datetime, datetime]]:
    hour = minute.replace(minute=0, second=0, microsecond=0)
    day = hour.replace(hour=0)
    return [
        ("window", minute, minute + timedelta(minutes=1)),
        ("hour", hour, hour + timedelta(hours=1)),
        ("day", day, day + timedelta(days=1)),
    ]


def _merged(activities: list[Activity]) -> list[Activity]:
    """One activity per actor, post and minute (the actor rows' key), counts added up."""
    merged: dict[tuple, Activity] = {}
    for a in activities:
        key = (a.minute, a.community_id, a.post_id, a.actor_id)
        if key in merged:
            old = merged[key]
            a = replace(
                old, **{name: getattr(old, name) + getattr(a, name) for name in COUNT_NAMES}
            )
        merged[key] = a
    return list(merged.values())


def metric_rows_load(activities: list[Activity]) -> None:
    """Write the rows the job would write for these activities (into tables that hold no
    rows for the same buckets)."""
    activities = _merged(activities)
    now = timezone.now()
    EngagementActorWindow.objects.bulk_create(
        EngagementActorWindow(
            window_start=a.minute,
            window_end=a.minute + timedelta(minutes=1),
            community_id=a.community_id,
            post_id=a.post_id,
            actor_id=a.actor_id,
            views=a.views,
            likes=a.likes,
            unlikes=a.unlikes,
            net_likes=a.likes - a.unlikes,
            comments=a.comments,
            shares=a.shares,
            posts_created=a.posts_created,
            members_joined=a.members_joined,
            members_left=a.members_left,
            engagement_score=a.score,
            updated_at=now,
        )
        for a in activities
    )
    posts: dict[tuple, dict] = defaultdict(lambda: defaultdict(int, actors=set()))
    communities: dict[tuple, dict] = defaultdict(lambda: defaultdict(int, actors=set()))
    for a in activities:
        for grain, start, end in _buckets(a.minute):
            targets = [communities[(a.community_id, grain, start, end)]]
            if a.post_id:
                targets.append(posts[(a.post_id, a.community_id, grain, start, end)])
            for row in targets:
                for name in (*POST_COUNTS, *COMMUNITY_ONLY):
                    row[name] += getattr(a, name)
                row["score"] += a.score
                row["actors"].add(a.actor_id)
    PostEngagement.objects.bulk_create(
        PostEngagement(
            post_id=post_id,
            community_id=community_id,
            grain=grain,
            window_start=start,
            window_end=end,
            updated_at=now,
            **_counts(row),
        )
        for (post_id, community_id, grain, start, end), row in posts.items()
    )
    CommunityEngagement.objects.bulk_create(
        CommunityEngagement(
            community_id=community_id,
            grain=grain,
            window_start=start,
            window_end=end,
            updated_at=now,
            posts_created=row["posts_created"],
            members_joined=row["members_joined"],
            members_left=row["members_left"],
            **_counts(row),
        )
        for (community_id, grain, start, end), row in communities.items()
    )


def _counts(row: dict) -> dict:
    return {
        **{name: row[name] for name in POST_COUNTS},
        "net_likes": row["likes"] - row["unlikes"],
        "distinct_actors": len(row["actors"]),
        "engagement_score": Decimal(row["score"]),
    }
