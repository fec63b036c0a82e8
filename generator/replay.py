"""Replays a generator plan through the service layer (direct mode) — the same functions the
pages and the API call, so every action writes its rows and its outbox event."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import OperationalError, transaction
from django.utils import timezone

from accounts.services import NewUser, users_create_bulk
from communities.models import Community
from communities.services import community_create, community_join
from generator import media
from generator.topics import TOPICS
from generator.traffic import Action, Burst, LiveWorld, Plan, PlannedUser
from posts.models import Comment, Like, Post
from posts.services import (
    comment_create,
    post_create,
    post_like,
    post_share,
    post_unlike,
    post_view_record,
)

VIDEO_POOL_SIZE = 12
CHUNK = 200  # actions per database transaction: one commit for many small writes
LIVE_POSTS = 2000  # live traffic engages with this many of the newest posts
LOCK_CONFLICTS = frozenset({1205, 1213})  # MariaDB: lock wait timeout, deadlock
CHUNK_ATTEMPTS = 5


class MediaMaker:
    """Pictures are drawn fresh for each post; videos come from a small pool of real clips
    (encoding one per post would dominate the run), each stored as its own file."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed ^ 0x5EED)
        self.videos: list[bytes] = []
        self.videos_enabled = media.ffmpeg_available()

    def file_for(self, *, kind: str, title: str, topic_index: int) -> ContentFile | None:
        if kind == "image":
            palette = TOPICS[topic_index % len(TOPICS)].palette
            data, ext = media.picture(self.rng, palette=palette, title=title)
            return ContentFile(data, name=f"picture.{ext}")
        if kind == "video":
            if not self.videos_enabled:
                return None
            if len(self.videos) < VIDEO_POOL_SIZE:
                self.videos.append(media.short_video(self.rng))
                return ContentFile(self.videos[-1], name="clip.mp4")
            return ContentFile(self.rng.choice(self.videos), name="clip.mp4")
        return None


class DirectReplayer:
    """Applies a plan's actions in order. Indexes in the plan become real rows as they are
    created; `occurred_at` is the plan's time when back-filling, else now."""

    def __init__(self, *, seed: int, password: str) -> None:
        self.seed = seed
        self.password = password
        self.plan: Plan | None = None
        self.start: datetime | None = None
        self.users: list = []
        self.communities: dict[int, Community] = {}
        self.posts: dict[int, Post] = {}
        self.comments: dict[int, Comment] = {}
        self.media = MediaMaker(seed)
        self.done: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.videos_skipped = 0
        self.live_started = timezone.now()

    def taken_names(self) -> dict[str, frozenset[str]]:
        """Names already used in the database, for the planner to avoid."""
        usernames = get_user_model().objects.values_list("username", flat=True)
        names = Community.objects.values_list("name", flat=True)
        return {"taken_usernames": frozenset(usernames), "taken_names": frozenset(names)}

    def begin(self, plan: Plan, *, start: datetime | None) -> None:
        self.plan, self.start = plan, start

    def create_users(self, progress: Callable[[int], None]) -> None:
        new_users = [_new_user(user) for user in self.plan.users]
        for offset in range(0, len(new_users), 500):
            batch = new_users[offset : offset + 500]
            self.users += users_create_bulk(new_users=batch, password=self.password)
            progress(len(batch))
        self.done["user"] += len(self.users)

    def load_world(self) -> LiveWorld:
        """Existing people, communities and recent posts, for live traffic."""
        self.plan = None
        self.users = list(get_user_model().objects.filter(is_staff=False).order_by("id"))
        user_index = {user.pk: index for index, user in enumerate(self.users)}
        self.communities = dict(enumerate(Community.objects.order_by("id")))
        members: list[list[int]] = []
        for community in self.communities.values():
            ids = community.memberships.values_list("user_id", flat=True)
            members.append([user_index[i] for i in ids if i in user_index])
        community_index = {c.pk: index for index, c in self.communities.items()}
        recent = Post.objects.filter(deleted_at__isnull=True).order_by("-id")[:LIVE_POSTS]
        self.posts = dict(enumerate(reversed(recent)))
        likes = Like.objects.filter(post__in=self.posts.values()).values_list("user_id", "post_id")
        post_index = {post.pk: index for index, post in self.posts.items()}
        self.live_started = timezone.now()
        return LiveWorld(
            users=len(self.users),
            members=members,
            post_communities=[community_index[p.community_id] for p in self.posts.values()],
            likes=frozenset((user_index[u], post_index[p]) for u, p in likes if u in user_index),
        )

    def burst_record(self, burst: Burst, *, source: str, started: datetime | None = None):
        post = self.posts.get(burst.post)
        if post is None:
            return None
        origin = started if source == "live" else self.start
        return burst_document(
            burst, post_id=post.pk, community=post.community.slug, origin=origin,
            times=_burst_times(self.plan, burst) if source == "history" else [],
            source=source,
        )  # fmt: skip

    def posts_adopt(self, post_ids: dict[int, int]) -> None:
        """Learn posts that worker processes created (plan index -> id)."""
        posts = Post.objects.select_related("community").in_bulk(list(post_ids.values()))
        self.posts.update({index: posts[pk] for index, pk in post_ids.items() if pk in posts})

    def run(self, actions: list[Action], progress: Callable[[int], None]) -> None:
        for offset in range(0, len(actions), CHUNK):
            chunk = actions[offset : offset + CHUNK]
            self.run_chunk(chunk)
            progress(len(chunk))

    def run_chunk(self, chunk: list[Action]) -> None:
        """Apply `chunk` in one transaction. Another writer (a second generator process, or
        people on the site) can lock the same posts in another order; MariaDB then rolls
        back one of the transactions as a deadlock victim. If it is this one, the chunk is
        applied again from its start (its rows, counts and created-object indexes), as a
        client retries a failed request."""
        for attempt in range(1, CHUNK_ATTEMPTS + 1):
            done, skipped = Counter(self.done), Counter(self.skipped)
            try:
                with transaction.atomic():
                    for action in chunk:
                        self.apply(action)
                return
            except OperationalError as exc:
                if exc.args[0] not in LOCK_CONFLICTS or attempt == CHUNK_ATTEMPTS:
                    raise
                self.done, self.skipped = done, skipped
                time.sleep(random.uniform(0.01, 0.1) * attempt)

    def occurred_at(self, action: Action) -> datetime | None:
        return None if self.start is None else self.start + timedelta(seconds=action.at)

    def apply(self, action: Action) -> None:
        handler = getattr(self, f"_do_{action.verb}")
        try:
            with transaction.atomic():
                handler(action, self.occurred_at(action))
        except (ValidationError, PermissionDenied, KeyError):
            # A planned action the rules refuse, or one about a post or comment whose creation
            # was refused, is skipped and counted, as a real client's refused request would be.
            self.skipped[action.verb] += 1
        else:
            self.done[action.verb] += 1

    def _do_create_community(self, action: Action, at: datetime | None) -> None:
        planned = self.plan.communities[action.community]
        community = community_create(
            creator=self.users[action.user], name=planned.name, slug=planned.slug,
            description=planned.description, occurred_at=at,
        )  # fmt: skip
        self.communities[action.community] = community

    def _do_join(self, action: Action, at: datetime | None) -> None:
        community_join(
            user=self.users[action.user], community=self.communities[action.community],
            occurred_at=at,
        )  # fmt: skip

    def _do_post(self, action: Action, at: datetime | None) -> None:
        community = self.communities[action.community]
        kind = action.kind or "quote"
        file = self.media.file_for(
            kind=kind, title=action.text or community.name, topic_index=self._topic(action)
        )
        if kind == "video" and file is None:
            self.videos_skipped += 1
            kind = "quote"
        self.posts[action.post] = post_create(
            author=self.users[action.user], community=community, kind=kind, text=action.text,
            attribution=action.attribution, media=file, occurred_at=at,
        )  # fmt: skip

    def _topic(self, action: Action) -> int:
        if self.plan is not None and action.community < len(self.plan.communities):
            return self.plan.communities[action.community].topic_index
        return action.community

    def _do_view(self, action: Action, at: datetime | None) -> None:
        viewer, post = self.users[action.user], self.posts[action.post]
        post_view_record(viewer=viewer, post=post, occurred_at=at)

    def _do_like(self, action: Action, at: datetime | None) -> None:
        post_like(user=self.users[action.user], post=self.posts[action.post], occurred_at=at)

    def _do_unlike(self, action: Action, at: datetime | None) -> None:
        post_unlike(user=self.users[action.user], post=self.posts[action.post], occurred_at=at)

    def _do_comment(self, action: Action, at: datetime | None) -> None:
        parent = None if action.parent_comment is None else self.comments[action.parent_comment]
        self.comments[action.comment] = comment_create(
            author=self.users[action.user], post=self.posts[action.post], body=action.text,
            parent=parent, occurred_at=at,
        )  # fmt: skip

    def _do_share(self, action: Action, at: datetime | None) -> None:
        target = None
        if action.target_community is not None:
            target = self.communities[action.target_community]
        post_share(
            user=self.users[action.user], post=self.posts[action.post], target_community=target,
            comment=action.text, occurred_at=at,
        )  # fmt: skip


def _new_user(user: PlannedUser) -> NewUser:
    return NewUser(
        username=user.username, email=user.email, first_name=user.first_name,
        last_name=user.last_name, bio=user.bio,
    )  # fmt: skip


def _burst_times(plan: Plan | None, burst: Burst) -> list[float]:
    if plan is None:
        return []
    return [
        a.at for a in plan.actions
        if a.post == burst.post and a.verb != "post" and burst.start <= a.at <= burst.end
    ]  # fmt: skip


def burst_document(
    burst: Burst,
    *,
    post_id: int,
    community: str,
    origin: datetime | None,
    times: list[float],
    source: str,
) -> dict:
    """One planted burst, as written to the ground-truth file. Times are absolute (UTC) when
    the actions carried them (back-fill or live); per_minute counts the burst's actions."""
    origin = origin or timezone.now()
    per_minute: Counter[str] = Counter()
    for at in times:
        minute = (origin + timedelta(seconds=at)).replace(second=0, microsecond=0)
        per_minute[minute.isoformat()] += 1
    return {
        "post_id": post_id,
        "community": community,
        "source": source,
        "start": (origin + timedelta(seconds=burst.start)).isoformat(),
        "end": (origin + timedelta(seconds=burst.end)).isoformat(),
        "actions": burst.actions,
        "per_minute": dict(sorted(per_minute.items())),
    }
