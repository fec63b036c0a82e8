"""Test data, built the way the app builds it: people and communities through the real
services (Zulip style), media bytes made with Pillow and ffmpeg, outbox rows as
`event_append` writes them, and metric rows as the engagement job leaves them.

The one module of builders every test suite imports (fixtures are in the root conftest.py)."""

from __future__ import annotations

import itertools
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image, ImageDraw

from analytics.models import CommunityEngagement, PostEngagement
from analytics.sketches import sketch_of
from communities.models import Community
from communities.services import community_create
from events.envelope import EventType, envelope_build, envelope_key
from events.models import OutboxEvent

# --- people and communities ---------------------------------------------------------------

PASSWORD = "correct-horse-battery-9"
_counter = itertools.count(1)


def user_make(username: str | None = None, **extra: Any):
    username = username or f"person{next(_counter)}"
    return get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)


def community_make(owner=None, name: str | None = None, **extra: Any) -> Community:
    name = name or f"Community {next(_counter)}"
    return community_create(creator=owner or user_make(), name=name, **extra)


# --- media ---------------------------------------------------------------------------------


def image_bytes(image_format: str = "PNG", size: tuple[int, int] = (320, 200)) -> bytes:
    image = Image.new("RGB", size, (240, 120, 40))
    draw = ImageDraw.Draw(image)
    draw.ellipse((size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4), fill="navy")
    out = BytesIO()
    image.save(out, format=image_format)
    return out.getvalue()


def image_upload(
    image_format: str = "PNG", name: str = "photo.png", **kwargs
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes(image_format, **kwargs), content_type="image/png")


@cache
def video_bytes(container: str = "mp4") -> bytes:
    codec = {"mp4": ["-c:v", "libx264", "-pix_fmt", "yuv420p"], "webm": ["-c:v", "libvpx"]}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"clip.{container}"
        subprocess.run(
            [
                "ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi",
                "-i", "testsrc=duration=1:size=320x240:rate=10",
                *codec[container], str(path),
            ],
            check=True,
            timeout=60,
        )  # fmt: skip
        return path.read_bytes()


def video_upload(container: str = "mp4", name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name or f"clip.{container}", video_bytes(container), content_type=f"video/{container}"
    )


# --- outbox rows ---------------------------------------------------------------------------


def outbox_rows_create(count: int, *, keys: int = 7, payload_extra: dict | None = None) -> list:
    """Pending rows as event_append writes them, in bulk: post_liked on `keys` posts, with a
    per-key sequence number in the payload to check order on the topic."""
    rows = []
    for n in range(count):
        post_id = n % keys + 1
        envelope = envelope_build(
            event_type=EventType.POST_LIKED,
            actor_id=1,
            community_id=1,
            post_id=post_id,
            payload={"seq": n, **(payload_extra or {})},
        )
        rows.append(
            OutboxEvent(
                event_id=envelope["event_id"],
                event_type=envelope["event_type"],
                key=envelope_key(envelope),
                envelope=envelope,
                occurred_at=timezone.now(),
            )
        )
    return OutboxEvent.objects.bulk_create(rows, batch_size=1000)


# --- metric rows ---------------------------------------------------------------------------

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


def metric_rows_load(activities: list[Activity]) -> None:
    """Write the rows the job would write for these activities (into tables that hold no
    rows for the same buckets): counts, and the actors' sketch with its estimate."""
    now = timezone.now()
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
        "actors_sketch": sketch_of(row["actors"]),
        "engagement_score": Decimal(row["score"]),
    }
