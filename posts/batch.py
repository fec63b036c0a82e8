"""The posts services in batch form: many writes (posts, views, likes, unlikes, comments,
shares) applied in one transaction with a few set-based statements, under the rules of the
one-by-one services. Those services (posts.services) are a batch of one, so each rule lives
here once: permission checks, validation, row locks, counters and hot score, and the events
(built by the events app's envelope builder, appended with `events_append`).

A batch gives what its writes would give one after another, in order:
1. lock: every existing post that is liked, unliked, commented on or shared (the original of
   a repost) is locked with one `SELECT … FOR UPDATE` in id order, which also reads its
   counters; the likes and memberships the writes depend on are read with one query each;
2. rules: the writes are checked and applied in order against that state in memory (a like
   then an unlike of the same post, a reply to a comment written earlier in the batch); a
   write the rules refuse gets the error the one-by-one service raises, in `error`, and
   changes nothing;
3. rows: new posts, reposts, comments, shares and likes are inserted with one bulk INSERT per
   table (comments in waves when a reply's parent is new), removed likes with one DELETE;
4. counters: each touched post's counters and hot score are written with one UPDATE for the
   whole batch, as values computed from the locked counters (posts.ranking);
5. events: one outbox INSERT, in the writes' order;
6. cache: one on-commit refresh of the listings and card versions of every post created or
   changed (posts.listings.posts_changed_on_commit, as the one-by-one services did).

A write may refer to an earlier write of the same batch: a `PostCreate` as the post of a
like or a comment, a `CommentCreate` as the parent of a reply.

The statements are raw SQL where the ORM's per-row Python cost more than the database's own
work; they need MariaDB 10.6 or later (INSERT … RETURNING for new ids, as Django's
bulk_create uses on MariaDB, and JSON_TABLE for the counters)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import connection, transaction
from django.db.models import Model
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from communities.models import Community, Membership
from communities.services import user_require_active
from events.envelope import EventType
from events.services import NewEvent, events_append
from posts import listings, ranking
from posts import media as media_lib
from posts.models import Comment, Like, Post, Share

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

TEXT_MAX = 5000
ATTRIBUTION_MAX = 200
COMMENT_MAX = 5000
SHARE_COMMENT_MAX = 300
DELETED_POST = "This post has been deleted."

# --------------------------------------------------------------------------- the writes


@dataclass(eq=False, kw_only=True)
class Write:
    """One requested write. After `posts_write_batch`, `result` holds what the one-by-one
    service returns, or `error` the ValidationError/PermissionDenied it raises."""

    occurred_at: datetime | None = None
    result: Any = field(default=None, init=False)
    error: ValidationError | PermissionDenied | None = field(default=None, init=False)


@dataclass(eq=False, kw_only=True)
class PostCreate(Write):
    """`media`: an upload (validated and processed here) or media processed already (a
    generator reuses one picture for many posts)."""

    author: User
    community: Community
    kind: str
    text: str = ""
    attribution: str = ""
    media: File | media_lib.ProcessedMedia | None = None


PostRef = Post | PostCreate


@dataclass(eq=False, kw_only=True)
class PostView(Write):
    viewer: User | AnonymousUser | None
    post: PostRef


@dataclass(eq=False, kw_only=True)
class PostLike(Write):
    user: User
    post: PostRef


@dataclass(eq=False, kw_only=True)
class PostUnlike(Write):
    user: User
    post: PostRef


@dataclass(eq=False, kw_only=True)
class CommentCreate(Write):
    author: User
    post: PostRef
    body: str
    parent: Comment | CommentCreate | None = None


@dataclass(eq=False, kw_only=True)
class PostShare(Write):
    user: User
    post: PostRef
    target_community: Community | None = None
    comment: str = ""


# --------------------------------------------------------------------------- the batch


def posts_write_batch(writes: Sequence[Write]) -> None:
    """Apply `writes` in one transaction (a savepoint inside the caller's), as one after
    another in order. Refused writes get their `error` and change nothing; any other
    exception rolls the whole batch back (and deletes the media files it stored)."""
    recorded = []
    for write in writes:
        if isinstance(write, PostView) and not getattr(write.viewer, "is_authenticated", False):
            write.result = False  # an event needs an actor: anonymous views are not recorded
        else:
            recorded.append(write)
    if not recorded:
        return
    writes = recorded
    batch = _Batch(writes)
    with transaction.atomic():
        batch.load()
        for write in writes:
            try:
                batch.apply(write)
            except (ValidationError, PermissionDenied) as exc:
                write.error = exc
        try:
            batch.write()
        except BaseException:
            media_lib.media_delete(batch.stored_files)
            raise
    batch.refresh_instances()


@dataclass(eq=False)
class _PostState:
    """A post as the batch sees it: locked (existing) or created by the batch."""

    community_id: int
    author_id: int
    kind: str
    created_at: datetime
    deleted: bool
    counts: list[int]  # like, comment, share
    pk: int | None = None
    row: Post | None = None  # the row this batch inserts
    changed: bool = False

    def add(self, index: int, delta: int) -> None:
        self.counts[index] += delta
        self.changed = True

    def require_alive(self) -> None:
        if self.deleted:
            raise ValidationError(DELETED_POST, code="deleted")


LIKES, COMMENTS, SHARES = 0, 1, 2


class _Batch:
    def __init__(self, writes: Sequence[Write]) -> None:
        self.writes = writes
        self.posts: dict[int | PostCreate, _PostState] = {}
        self.members: set[tuple[int, int]] = set()
        self.likes: dict[tuple[int, int | PostCreate], Like | None] = {}
        self.likes_gone: set[int] = set()
        self.reposts: list[tuple[Post, _PostState]] = []
        self.comments: dict[CommentCreate, tuple[Comment, _PostState]] = {}
        self.shares: list[tuple[Share, _PostState, Post | None]] = []
        self.events: list[Callable[[], NewEvent]] = []
        self.stored_files: list[str] = []
        self.instances: list[Post] = []

    # -- 1. state ----------------------------------------------------------------------
    def load(self) -> None:
        locked: set[int] = set()
        pairs: set[tuple[int, int]] = set()
        likes: set[tuple[int, int]] = set()
        for write in self.writes:
            post = getattr(write, "post", None)
            if isinstance(write, PostCreate):
                pairs.add((write.author.pk, write.community.pk))
            if isinstance(post, Post) and not isinstance(write, PostView):
                locked.add(_original_id(post) if isinstance(write, PostShare) else post.pk)
                self.instances.append(post)
            if isinstance(write, PostLike | PostUnlike) and isinstance(post, Post):
                likes.add((write.user.pk, post.pk))
            if isinstance(write, CommentCreate):
                new = isinstance(post, PostCreate)
                pairs.add((write.author.pk, post.community.pk if new else post.community_id))
            if isinstance(write, PostShare) and write.target_community is not None:
                pairs.add((write.user.pk, write.target_community.pk))
        self._posts_lock(locked)
        self._members_load(pairs)
        self._likes_load(likes)

    def _posts_lock(self, ids: set[int]) -> None:
        if not ids:
            return
        columns = ("id", "community_id", "author_id", "kind", "created_at", "deleted_at",
                   "like_count", "comment_count", "share_count")  # fmt: skip
        sql = (
            f"SELECT {', '.join(columns)} FROM {Post._meta.db_table} "  # noqa: S608
            f"WHERE id IN ({', '.join(['%s'] * len(ids))}) ORDER BY id FOR UPDATE"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, sorted(ids))
            rows = cursor.fetchall()
        for pk, community_id, author_id, kind, created, deleted_at, *counts in rows:
            created = timezone.make_aware(created, connection.timezone)
            self.posts[pk] = _PostState(community_id, author_id, kind, created,
                                        deleted_at is not None, counts, pk=pk)  # fmt: skip

    def _members_load(self, pairs: set[tuple[int, int]]) -> None:
        if not pairs:
            return
        users, communities = {u for u, _ in pairs}, {c for _, c in pairs}
        sql = (
            f"SELECT user_id, community_id FROM {Membership._meta.db_table} "  # noqa: S608
            f"WHERE user_id IN ({', '.join(['%s'] * len(users))}) "
            f"AND community_id IN ({', '.join(['%s'] * len(communities))})"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*users, *communities])
            self.members = set(cursor.fetchall()) & pairs

    def _likes_load(self, pairs: set[tuple[int, int]]) -> None:
        """The existing likes of (user, post) pairs, by the unique index, 500 pairs a query."""
        ordered = sorted(pairs)
        names = [f.attname for f in Like._meta.concrete_fields]  # the order from_db expects
        for start in range(0, len(ordered), 500):
            part = ordered[start : start + 500]
            placeholders = ", ".join(["(%s, %s)"] * len(part))
            sql = (
                f"SELECT {', '.join(names)} FROM {Like._meta.db_table} "  # noqa: S608
                f"WHERE (user_id, post_id) IN ({placeholders})"
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, [value for pair in part for value in pair])
                for values in cursor.fetchall():
                    like = Like.from_db(connection.alias, names, values)
                    self.likes[(like.user_id, like.post_id)] = like
        for pair in pairs:
            self.likes.setdefault(pair, None)

    # -- 2. rules ------------------------------------------------------------------------
    def apply(self, write: Write) -> None:
        handler = self.handlers[type(write)]
        handler(self, write, write.occurred_at or timezone.now())

    def _state(self, post: PostRef) -> _PostState:
        if isinstance(post, PostCreate):
            state = self.posts.get(post)
            if state is None:
                raise ValidationError("The post was not created.", code="not_created")
            return state
        return self.posts[post.pk]

    def _require_member(
        self, user: User, community_id: int, community: Callable[[], Community], action: str
    ) -> None:
        """`community` is fetched for the message only (a post instance may not have its
        community loaded)."""
        user_require_active(user)
        if (user.pk, community_id) not in self.members:
            raise PermissionDenied(f"Join c/{community().slug} to {action}.")

    def _apply_PostCreate(self, write: PostCreate, at: datetime) -> None:
        community = write.community
        self._require_member(write.author, community.pk, lambda: community, "post")
        text, attribution = write.text.strip(), write.attribution.strip()
        _post_validate(kind=write.kind, text=text, attribution=attribution, media=write.media)
        media = write.media
        if isinstance(media, File):
            media = _media_process(kind=write.kind, media=media)
        post = Post(
            community=community,
            author=write.author,
            kind=write.kind,
            text=text,
            attribution=attribution,
            created_at=at,
            hot_score=ranking.hot_score(engagement=0, created_at=at),
        )
        if media is not None:
            self._media_attach(post, media)
        state = _PostState(community.pk, write.author.pk, write.kind, at, False, [0, 0, 0])
        state.row = post
        self.posts[write] = state
        write.result = post
        self.events.append(lambda: _event(EventType.POST_CREATED, write.author, state, at,
                                          _post_created_payload(post)))  # fmt: skip

    def _media_attach(self, post: Post, media: media_lib.ProcessedMedia) -> None:
        media_name, thumbnail_name = media_lib.media_store(media)
        self.stored_files += [media_name, thumbnail_name]
        post.media.name, post.thumbnail.name = media_name, thumbnail_name
        post.media_content_type = media.content_type
        post.media_size, post.media_width = media.size, media.width
        post.media_height, post.media_duration = media.height, media.duration

    def _apply_PostView(self, write: PostView, at: datetime) -> None:
        """No lock: a view changes no row, and the caller's instance says if it is deleted."""
        viewer, post = write.viewer, write.post
        write.result = False
        if isinstance(post, PostCreate):
            state = self._state(post)
            payload = {"kind": state.kind, "author_id": state.author_id}
            self.events.append(lambda: _event(EventType.POST_VIEWED, viewer, state, at, payload))
        elif post.is_deleted:
            return
        else:
            payload = {"kind": post.kind, "author_id": post.author_id}
            event = NewEvent(EventType.POST_VIEWED, viewer.pk, post.community_id, post.pk,
                             payload, at)  # fmt: skip
            self.events.append(lambda: event)
        write.result = True

    def _apply_PostLike(self, write: PostLike, at: datetime) -> None:
        user_require_active(write.user)
        state = self._state(write.post)
        state.require_alive()
        pair = (write.user.pk, _key(write.post))
        existing = self.likes.get(pair)
        if existing is not None:
            write.result = existing
            return
        like = Like(user_id=write.user.pk, created_at=at)
        self.likes[pair] = like
        state.add(LIKES, 1)
        write.result = like
        payload = {"author_id": state.author_id, "kind": state.kind}
        self.events.append(lambda: _event(EventType.POST_LIKED, write.user, state, at, payload))

    def _apply_PostUnlike(self, write: PostUnlike, at: datetime) -> None:
        user_require_active(write.user)
        state = self._state(write.post)
        state.require_alive()
        pair = (write.user.pk, _key(write.post))
        existing = self.likes.get(pair)
        write.result = existing is not None
        if existing is None:
            return
        if existing.pk is not None:
            self.likes_gone.add(existing.pk)
        self.likes[pair] = None
        state.add(LIKES, -1)
        payload = {"author_id": state.author_id, "kind": state.kind}
        self.events.append(lambda: _event(EventType.POST_UNLIKED, write.user, state, at, payload))

    def _apply_CommentCreate(self, write: CommentCreate, at: datetime) -> None:
        post, parent = write.post, write.parent
        state = self._state(post)
        self._require_member(write.author, state.community_id, lambda: post.community, "comment")
        body = write.body.strip()
        if not body:
            raise ValidationError({"body": "Write something first."})
        if len(body) > COMMENT_MAX:
            raise ValidationError({"body": f"At most {COMMENT_MAX} characters."})
        depth, parent_state = 0, None
        if isinstance(parent, CommentCreate):
            if parent not in self.comments:
                raise ValidationError({"parent": "The comment replied to was not written."})
            parent_row, parent_state = self.comments[parent]
            depth = parent_row.depth + 1
        elif parent is not None:
            parent_state = self.posts.get(parent.post_id)
            depth = parent.depth + 1
        if parent is not None and parent_state is not state:
            raise ValidationError({"parent": "You can only reply to a comment on the same post."})
        if isinstance(parent, Comment) and parent.is_deleted:
            raise ValidationError({"parent": "This comment was deleted; it can't be replied to."})
        state.require_alive()
        comment = Comment(author=write.author, body=body, depth=depth, created_at=at)
        if isinstance(parent, Comment):
            comment.parent, comment.root_id = parent, parent.root_id or parent.pk
        self.comments[write] = (comment, state)
        state.add(COMMENTS, 1)
        write.result = comment

        def event() -> NewEvent:
            payload = {
                "comment_id": comment.pk,
                "parent_id": comment.parent_id,
                "depth": comment.depth,
                "body_length": len(body),
                "post_author_id": state.author_id,
            }
            return _event(EventType.COMMENT_CREATED, write.author, state, at, payload)

        self.events.append(event)

    def _apply_PostShare(self, write: PostShare, at: datetime) -> None:
        user, target = write.user, write.target_community
        user_require_active(user)
        comment = write.comment.strip()
        if len(comment) > SHARE_COMMENT_MAX:
            raise ValidationError({"comment": f"At most {SHARE_COMMENT_MAX} characters."})
        post = write.post
        state = (
            self._state(post) if isinstance(post, PostCreate) else self.posts[_original_id(post)]
        )
        if target is not None:
            if target.pk == state.community_id:
                raise ValidationError(
                    {"target_community": "Choose a community other than the post's own."}
                )
            if (user.pk, target.pk) not in self.members:
                raise PermissionDenied(f"Join c/{target.slug} to share into it.")
        state.require_alive()
        repost = None
        if target is not None:
            repost = Post(
                community=target,
                author=user,
                kind=state.kind,
                text=comment,
                created_at=at,
                hot_score=ranking.hot_score(engagement=0, created_at=at),
            )
            self.reposts.append((repost, state))
        share = Share(user_id=user.pk, target_community=target, comment=comment, created_at=at)
        self.shares.append((share, state, repost))
        state.add(SHARES, 1)
        write.result = share

        def event() -> NewEvent:
            payload = {
                "share_id": share.pk,
                "target_community_id": target.pk if target else None,
                "repost_id": repost.pk if repost else None,
                "comment_length": len(comment),
                "author_id": state.author_id,
                "kind": state.kind,
            }
            return _event(EventType.POST_SHARED, user, state, at, payload)

        self.events.append(event)

    # -- 3-5. rows, counters, events -----------------------------------------------------
    def write(self) -> None:
        created = [state for state in self.posts.values() if state.row is not None]
        if created:
            _rows_insert([state.row for state in created])
            for state in created:
                state.pk = state.row.pk
        if self.reposts:
            for repost, state in self.reposts:
                repost.shared_from_id = state.pk
            _rows_insert([repost for repost, _ in self.reposts])
        self._comments_insert()
        if self.shares:
            for share, state, repost in self.shares:
                share.post_id, share.repost = state.pk, repost
            _rows_insert([share for share, _, _ in self.shares])
        self._likes_write()
        self._counters_write()
        events_append([event() for event in self.events])
        self._listings_refresh()

    def _listings_refresh(self) -> None:
        """After commit, the listings and card versions of every post the batch created or
        whose counters it changed, once for the batch (posts.listings); with a share, what
        the reposts of the shared posts show changed too."""
        changed = [s.pk for s in self.posts.values() if s.row is not None or s.changed]
        changed += [repost.pk for repost, _ in self.reposts]
        if changed:
            listings.posts_changed_on_commit(changed, reposts=bool(self.shares))

    def _comments_insert(self) -> None:
        """Comments whose parent exists go first; then, wave by wave, replies to comments
        the previous wave inserted."""
        waiting = dict(self.comments)
        while waiting:
            wave = {
                write: (comment, state)
                for write, (comment, state) in waiting.items()
                if not isinstance(write.parent, CommentCreate) or write.parent not in waiting
            }
            for write, (comment, state) in wave.items():
                comment.post_id = state.pk
                if isinstance(write.parent, CommentCreate):
                    parent = self.comments[write.parent][0]
                    comment.parent, comment.root_id = parent, parent.root_id or parent.pk
            _rows_insert([comment for comment, _ in wave.values()])
            for write in wave:
                del waiting[write]

    def _likes_write(self) -> None:
        if self.likes_gone:
            Like.objects.filter(pk__in=self.likes_gone).delete()
        new = []
        for (_, post_key), like in self.likes.items():
            if like is not None and like.pk is None:
                like.post_id = self.posts[post_key].pk
                new.append(like)
        if new:
            _rows_insert(new)

    def _counters_write(self) -> None:
        """One UPDATE for every post whose counters changed: the counters and the hot score,
        as values (the posts are locked, or new in this transaction)."""
        rows = []
        for state in self.posts.values():
            if not state.changed:
                continue
            likes, comments, shares = state.counts
            engaged = ranking.engagement(like_count=likes, comment_count=comments,
                                         share_count=shares)  # fmt: skip
            hot = ranking.hot_score(engagement=engaged, created_at=state.created_at)
            rows.append([state.pk, likes, comments, shares, hot])
        if not rows:
            return
        table = connection.ops.quote_name(Post._meta.db_table)
        sql = (
            f"UPDATE {table} p JOIN JSON_TABLE(%s, '$[*]' COLUMNS ("  # noqa: S608
            "id BIGINT PATH '$[0]', likes INT PATH '$[1]', comments INT PATH '$[2]', "
            "shares INT PATH '$[3]', hot DOUBLE PATH '$[4]')) c ON p.id = c.id "
            "SET p.like_count = c.likes, p.comment_count = c.comments, "
            "p.share_count = c.shares, p.hot_score = c.hot"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [json.dumps(rows)])

    handlers: dict[type[Write], Callable[..., None]] = {}

    def refresh_instances(self) -> None:
        """Give the callers' post instances the counters the batch left (the one-by-one
        services did this with a refresh from the database)."""
        for post in self.instances:
            state = self.posts.get(post.pk)
            if state is None:
                continue
            post.like_count, post.comment_count, post.share_count = state.counts
            engaged = ranking.engagement(like_count=state.counts[LIKES],
                                         comment_count=state.counts[COMMENTS],
                                         share_count=state.counts[SHARES])  # fmt: skip
            post.hot_score = ranking.hot_score(engagement=engaged, created_at=state.created_at)


_Batch.handlers = {
    kind: getattr(_Batch, f"_apply_{kind.__name__}")
    for kind in (PostCreate, PostView, PostLike, PostUnlike, CommentCreate, PostShare)
}

# --------------------------------------------------------------------------- helpers


def _rows_insert(objs: Sequence[Model]) -> None:
    """INSERT new rows of one model, 1000 a statement, and give each instance its id (INSERT
    … RETURNING, as bulk_create does on MariaDB). Raw SQL: bulk_create's per-field Python
    cost several times the database's own time here. The values are the instances' field
    values, ready for the database: datetimes naive in UTC, files by name."""
    if not objs:
        return
    meta = objs[0]._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    head = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    tail = f" RETURNING {quote(meta.pk.column)}"
    tz = connection.timezone
    for start in range(0, len(objs), 1000):
        part = objs[start : start + 1000]
        params = [_db_value(getattr(obj, f.attname), tz) for obj in part for f in fields]
        with connection.cursor() as cursor:
            cursor.execute(head + ", ".join([row] * len(part)) + tail, params)
            ids = cursor.fetchall()
        for obj, (pk,) in zip(part, ids, strict=True):
            obj.pk = pk
            obj._state.adding, obj._state.db = False, connection.alias


def _db_value(value: Any, tz: tzinfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(tz).replace(tzinfo=None).isoformat(" ")
    if isinstance(value, FieldFile):
        return value.name or ""
    return value


def _key(post: PostRef) -> int | PostCreate:
    return post if isinstance(post, PostCreate) else post.pk


def _original_id(post: Post) -> int:
    """Sharing a repost shares its original."""
    return post.shared_from_id or post.pk


def _event(
    event_type: str, actor: User, state: _PostState, at: datetime, payload: dict[str, Any]
) -> NewEvent:
    return NewEvent(event_type, actor.pk, state.community_id, state.pk, payload, at)


def _post_validate(
    *, kind: str, text: str, attribution: str, media: File | media_lib.ProcessedMedia | None
) -> None:
    errors: dict[str, str] = {}
    if kind not in Post.Kind.values:
        errors["kind"] = "Choose quote, image or video."
    elif kind == Post.Kind.QUOTE:
        if not text:
            errors["text"] = "Write the quote."
        if media is not None:
            errors["media"] = "A quote has no file; choose image or video to upload one."
    else:
        if media is None:
            errors["media"] = f"Choose the {kind} file to upload."
        elif isinstance(media, media_lib.ProcessedMedia) and not media.content_type.startswith(
            f"{kind}/"
        ):
            errors["media"] = f"This file is not a {kind}."
        if attribution:
            errors["attribution"] = "Only quotes have an attribution."
    if len(text) > TEXT_MAX:
        errors["text"] = f"At most {TEXT_MAX} characters."
    if len(attribution) > ATTRIBUTION_MAX:
        errors["attribution"] = f"At most {ATTRIBUTION_MAX} characters."
    if errors:
        raise ValidationError(errors)


def _media_process(*, kind: str, media: File) -> media_lib.ProcessedMedia:
    try:
        if kind == Post.Kind.IMAGE:
            return media_lib.image_process(media)
        return media_lib.video_process(media)
    except ValidationError as exc:
        raise ValidationError({"media": exc.messages}) from exc


def _post_created_payload(post: Post) -> dict[str, Any]:
    payload: dict[str, Any] = {"kind": post.kind, "text_length": len(post.text)}
    if post.kind != Post.Kind.QUOTE:
        payload.update(
            content_type=post.media_content_type,
            size_bytes=post.media_size,
            width=post.media_width,
            height=post.media_height,
        )
    if post.kind == Post.Kind.VIDEO:
        payload["duration_seconds"] = round(post.media_duration or 0, 3)
    return payload
