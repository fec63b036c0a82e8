"""Replays a generator plan through the service layer (direct mode): the batch forms of the
services (`posts_write_batch`, `community_join_batch`), a chunk of actions at a time, or with
`one_by_one` the one-by-one services the pages and the API call. Both apply the same rules
and write the same rows and events (tests/test_seed_fake_data.py runs one plan both ways)."""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import OperationalError, transaction
from django.utils import timezone

from accounts.services import NewUser, users_create_bulk
from communities.models import Community
from communities.services import Join, community_create, community_join, community_join_batch
from generator import media
from generator.topics import TOPICS
from generator.traffic import Action, Burst, LiveWorld, Plan, PlannedUser
from posts.media import ProcessedMedia, image_process, video_process
from posts.models import Comment, Like, Post
from posts.services import (
    CommentCreate,
    PostCreate,
    PostLike,
    PostShare,
    PostUnlike,
    PostView,
    comment_create,
    post_create,
    post_like,
    post_share,
    post_unlike,
    post_view_record,
    posts_write_batch,
)

VIDEO_POOL_SIZE = 3
CHUNK = 200  # actions per database transaction one by one
BATCH = 2000  # actions per database transaction through the batch services
LIVE_POSTS = 2000  # live traffic engages with this many of the newest posts
LOCK_CONFLICTS = frozenset({1205, 1213})  # MariaDB: lock wait timeout, deadlock
CHUNK_ATTEMPTS = 5
COMMUNITY_VERBS = frozenset({"create_community", "join"})


class MediaMaker:
    """Media for generated posts: one picture per topic (in its colours, with its name) and
    VIDEO_POOL_SIZE short clips, each drawn or encoded once and processed once by the same
    code as any upload (posts.media: validation by content, re-encoding, thumbnail, poster).
    Every post still stores its own copy. Processing a picture takes ~0.1 s and a video
    ~0.5 s, so once per post it was most of a back-fill's time.

    `start` has the files made in two threads (Pillow and ffmpeg work outside the GIL), so
    they are ready while people and communities are written; `file_for` waits for its own."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.videos_enabled = media.ffmpeg_available()
        self.made: dict[tuple[str, int], Future[ProcessedMedia]] = {}
        self._threads: ThreadPoolExecutor | None = None

    def file_for(self, *, kind: str, post_index: int, topic_index: int) -> ProcessedMedia | None:
        """The processed media of a post (None for a quote, or a video without ffmpeg)."""
        key = self._key(kind, post_index, topic_index)
        return None if key is None else self._future(key).result()

    def start(self, actions: list[Action], topic: Callable[[Action], int]) -> None:
        """Begin making every file the actions' posts need."""
        for action in actions:
            if action.verb == "post":
                key = self._key(action.kind or "quote", action.post, topic(action))
                if key is not None:
                    self._future(key)

    def start_all(self, topics: set[int]) -> None:
        """Begin making a picture for each of `topics` and every clip (live traffic)."""
        for topic in topics:
            self._future(("image", topic % len(TOPICS)))
        if self.videos_enabled:
            for clip in range(VIDEO_POOL_SIZE):
                self._future(("video", clip))

    def wait(self) -> None:
        """Wait until every file begun is made, and stop the threads (before a fork)."""
        for future in self.made.values():
            future.result()
        if self._threads is not None:
            self._threads.shutdown()
            self._threads = None

    def _key(self, kind: str, post_index: int, topic_index: int) -> tuple[str, int] | None:
        if kind == "image":
            return ("image", topic_index % len(TOPICS))
        if kind == "video" and self.videos_enabled:
            return ("video", post_index % VIDEO_POOL_SIZE)
        return None

    def _future(self, key: tuple[str, int]) -> Future[ProcessedMedia]:
        if key not in self.made:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="media")
            self.made[key] = self._threads.submit(self._make, *key)
        return self.made[key]

    def _make(self, kind: str, index: int) -> ProcessedMedia:
        rng = random.Random(self.seed * 1000 + index)
        if kind == "image":
            topic = TOPICS[index]
            data, ext = media.picture(rng, palette=topic.palette, title=topic.name)
            return image_process(ContentFile(data, name=f"picture.{ext}"))
        return video_process(ContentFile(media.short_video(rng), name="clip.mp4"))


class DirectReplayer:
    """Applies a plan's actions in order. Indexes in the plan become real rows as they are
    created; `occurred_at` is the plan's time when back-filling, else now."""

    def __init__(self, *, seed: int, password: str, one_by_one: bool = False) -> None:
        self.seed = seed
        self.password = password
        self.one_by_one = one_by_one
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
        self.media.start(plan.actions, self._topic)

    def create_users(self, progress: Callable[[int], None]) -> None:
        """Everyone at once: the shared password is hashed once per call (deliberately slow)."""
        new_users = [_new_user(user) for user in self.plan.users]
        self.users += users_create_bulk(new_users=new_users, password=self.password)
        progress(len(new_users))
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
        # Live traffic posts pictures and clips; made now, they do not stall the first ones.
        self.media.start_all(set(self.communities))
        self.media.wait()
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
        size = CHUNK if self.one_by_one else BATCH
        for offset in range(0, len(actions), size):
            chunk = actions[offset : offset + size]
            self.run_chunk(chunk)
            progress(len(chunk))

    def run_chunk(self, chunk: list[Action]) -> None:
        """Apply `chunk` in one transaction. Another writer (a second generator process, or
        people on the site) can lock the same posts in another order; MariaDB then rolls
        back one of the transactions as a deadlock victim. If it is this one, the chunk is
        applied again from its start (its rows, counts and created-object indexes), as a
        client retries a failed request."""
        for attempt in range(1, CHUNK_ATTEMPTS + 1):
            # Plan indexes are only ever added (in order), so their counts mark the rollback.
            created = [self.posts, self.comments, self.communities]
            saved = (Counter(self.done), Counter(self.skipped), self.videos_skipped,
                     [len(indexes) for indexes in created])  # fmt: skip
            try:
                with transaction.atomic():
                    if self.one_by_one:
                        for action in chunk:
                            self.apply(action)
                    else:
                        self.apply_batch(chunk)
                return
            except OperationalError as exc:
                if exc.args[0] not in LOCK_CONFLICTS or attempt == CHUNK_ATTEMPTS:
                    raise
                self.done, self.skipped, self.videos_skipped, counts = saved
                for indexes, count in zip(created, counts, strict=True):
                    for index in list(indexes)[count:]:
                        del indexes[index]
                time.sleep(random.uniform(0.01, 0.1) * attempt)

    def media_warm(self, actions: list[Action]) -> None:
        """Make the media files the actions' posts need, once, before worker processes fork."""
        self.media.start(actions, self._topic)
        self.media.wait()

    def occurred_at(self, action: Action) -> datetime | None:
        return None if self.start is None else self.start + timedelta(seconds=action.at)

    # -- through the batch services -----------------------------------------------------
    def apply_batch(self, actions: list[Action]) -> None:
        """Apply actions through the batch services: runs of community actions and runs of
        post actions, each run as one batch (a community is created one by one)."""
        for community_run, run in itertools.groupby(actions, lambda a: a.verb in COMMUNITY_VERBS):
            if community_run:
                self._communities_batch(list(run))
            else:
                self._posts_batch(list(run))

    def _communities_batch(self, actions: list[Action]) -> None:
        for creating, run in itertools.groupby(actions, lambda a: a.verb == "create_community"):
            if creating:
                for action in run:
                    self.apply(action)
                continue
            joins: list[tuple[Action, Join]] = []
            for action in run:
                try:
                    join = Join(user=self.users[action.user],
                                community=self.communities[action.community],
                                occurred_at=self.occurred_at(action))  # fmt: skip
                except KeyError:
                    self.skipped[action.verb] += 1
                    continue
                joins.append((action, join))
            community_join_batch([join for _, join in joins])
            for action, join in joins:
                self._count(action, join.error)

    def _posts_batch(self, actions: list[Action]) -> None:
        new_posts: dict[int, PostCreate] = {}
        new_comments: dict[int, CommentCreate] = {}
        writes = []
        for action in actions:
            try:
                write = self._write_for(action, new_posts, new_comments)
            except KeyError:
                # About a post, comment or community whose creation was refused.
                self.skipped[action.verb] += 1
                continue
            writes.append((action, write))
        posts_write_batch([write for _, write in writes])
        for action, write in writes:
            self._count(action, write.error)
            if write.error is not None:
                continue
            if isinstance(write, PostCreate):
                self.posts[action.post] = write.result
            elif isinstance(write, CommentCreate):
                self.comments[action.comment] = write.result

    def _write_for(
        self,
        action: Action,
        new_posts: dict[int, PostCreate],
        new_comments: dict[int, CommentCreate],
    ):
        at, user = self.occurred_at(action), self.users[action.user]
        if action.verb == "post":
            community = self.communities[action.community]
            kind, file = self._media(action)
            new_posts[action.post] = PostCreate(
                author=user, community=community, kind=kind, text=action.text,
                attribution=action.attribution, media=file, occurred_at=at,
            )  # fmt: skip
            return new_posts[action.post]
        post = new_posts.get(action.post) or self.posts[action.post]
        if action.verb == "view":
            return PostView(viewer=user, post=post, occurred_at=at)
        if action.verb == "like":
            return PostLike(user=user, post=post, occurred_at=at)
        if action.verb == "unlike":
            return PostUnlike(user=user, post=post, occurred_at=at)
        if action.verb == "comment":
            parent = None
            if action.parent_comment is not None:
                parent = (
                    new_comments.get(action.parent_comment) or self.comments[action.parent_comment]
                )
            write = CommentCreate(author=user, post=post, body=action.text, parent=parent,
                                  occurred_at=at)  # fmt: skip
            new_comments[action.comment] = write
            return write
        target = None
        if action.target_community is not None:
            target = self.communities[action.target_community]
        return PostShare(user=user, post=post, target_community=target, comment=action.text,
                         occurred_at=at)  # fmt: skip

    def _count(self, action: Action, error: Exception | None) -> None:
        (self.skipped if error is not None else self.done)[action.verb] += 1

    def _media(self, action: Action) -> tuple[str, ProcessedMedia | None]:
        kind = action.kind or "quote"
        file = self.media.file_for(kind=kind, post_index=action.post,
                                   topic_index=self._topic(action))  # fmt: skip
        if kind == "video" and file is None:
            self.videos_skipped += 1
            kind = "quote"
        return kind, file

    # -- one by one ---------------------------------------------------------------------
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
        kind, file = self._media(action)
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
