"""Writes for posts, likes, comments and shares.

Creating a post, recording a view, liking, unliking, commenting and sharing are the batch
form of these services (posts.batch) applied to one write, so each of their rules (checks,
row lock, counters and hot score, event) lives in one place; `posts_write_batch` applies
many writes at once (the generator's back-fill and live traffic). Every state change appends
its analytics event in the same transaction. Counters on Post change only while the post row
is locked (select_for_update), and `hot_score` is written with them from the same counts
(see posts.ranking), so counters and score never drift from the rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from communities.models import Community, Membership
from communities.services import user_require_active
from events.envelope import EventType
from events.services import event_append
from posts import listings
from posts import media as media_lib
from posts.batch import (
    ATTRIBUTION_MAX,
    COMMENT_MAX,
    SHARE_COMMENT_MAX,
    TEXT_MAX,
    CommentCreate,
    PostCreate,
    PostLike,
    PostShare,
    PostUnlike,
    PostView,
    Write,
    posts_write_batch,
)
from posts.models import Comment, Like, Post, Share

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

__all__ = [
    "ATTRIBUTION_MAX",
    "COMMENT_MAX",
    "SHARE_COMMENT_MAX",
    "TEXT_MAX",
    "CommentCreate",
    "PostCreate",
    "PostLike",
    "PostShare",
    "PostUnlike",
    "PostView",
    "comment_create",
    "comment_delete",
    "post_create",
    "post_delete",
    "post_like",
    "post_share",
    "post_unlike",
    "post_view_record",
    "posts_write_batch",
]


def _one(write: Write) -> Any:
    """Apply one write as a batch of one: its result, or the error its rules raised."""
    posts_write_batch([write])
    if write.error is not None:
        raise write.error
    return write.result


# ---------------------------------------------------------------------------- helpers


def _membership(*, user: User, community: Community) -> Membership | None:
    return Membership.objects.filter(user=user, community=community).first()


def _moderation_role(*, actor: User, community: Community, author_id: int) -> str:
    """Who may remove content: its author, the community's owner/moderators, or staff."""
    user_require_active(actor)
    if actor.pk == author_id:
        return "author"
    membership = _membership(user=actor, community=community)
    if membership is not None and membership.can_moderate:
        return membership.role
    if actor.is_staff:
        return "staff"
    raise PermissionDenied("Only the author or the community's moderators can delete this.")


# ---------------------------------------------------------------------------- posts


def post_create(
    *,
    author: User,
    community: Community,
    kind: str,
    text: str = "",
    attribution: str = "",
    media: File | media_lib.ProcessedMedia | None = None,
    occurred_at: datetime | None = None,
) -> Post:
    """Create a quote, image or video post. Media is validated by content (or comes processed
    by posts.media already) and stored; if the transaction fails, the stored files are
    deleted again."""
    return _one(
        PostCreate(author=author, community=community, kind=kind, text=text,
                   attribution=attribution, media=media, occurred_at=occurred_at)
    )  # fmt: skip


def post_delete(*, actor: User, post: Post, occurred_at: datetime | None = None) -> None:
    """Soft-delete a post (author, community moderators/owner, or staff): it leaves feeds,
    its text and media are removed, its row and counters stay for analytics. Deleting a
    deleted post does nothing."""
    role = _moderation_role(actor=actor, community=post.community, author_id=post.author_id)
    occurred_at = occurred_at or timezone.now()
    with transaction.atomic():
        locked = Post.objects.select_for_update().get(pk=post.pk)
        if locked.is_deleted:
            return
        files = [locked.media.name, locked.thumbnail.name]
        Post.objects.filter(pk=post.pk).update(
            deleted_at=occurred_at, text="", attribution="", media="", thumbnail=""
        )
        event_append(
            event_type=EventType.POST_DELETED,
            actor_id=actor.pk,
            community_id=locked.community_id,
            post_id=locked.pk,
            payload={"kind": locked.kind, "author_id": locked.author_id, "deleted_by": role},
            occurred_at=occurred_at,
        )
        listings.posts_changed_on_commit([locked.pk], reposts=True)
        transaction.on_commit(lambda: media_lib.media_delete(files))
    post.refresh_from_db()


def post_view_record(
    *, viewer: User | AnonymousUser | None, post: Post, occurred_at: datetime | None = None
) -> bool:
    """Record that a post page was served. Anonymous views are not recorded (an event needs
    an actor id). Returns whether an event was appended."""
    return _one(PostView(viewer=viewer, post=post, occurred_at=occurred_at))


# ---------------------------------------------------------------------------- likes


def post_like(*, user: User, post: Post, occurred_at: datetime | None = None) -> Like:
    """Like a post. Idempotent: liking again returns the existing like and appends nothing."""
    return _one(PostLike(user=user, post=post, occurred_at=occurred_at))


def post_unlike(*, user: User, post: Post, occurred_at: datetime | None = None) -> bool:
    """Remove the user's like. Returns False (and appends nothing) if there was none."""
    return _one(PostUnlike(user=user, post=post, occurred_at=occurred_at))


# ---------------------------------------------------------------------------- comments


def comment_create(
    *,
    author: User,
    post: Post,
    body: str,
    parent: Comment | None = None,
    occurred_at: datetime | None = None,
) -> Comment:
    """Comment on a post, or reply to `parent` (a comment on the same post). Members only."""
    return _one(
        CommentCreate(author=author, post=post, body=body, parent=parent, occurred_at=occurred_at)
    )


def comment_delete(*, actor: User, comment: Comment, occurred_at: datetime | None = None) -> None:
    """Soft-delete a comment (author, community moderators/owner, or staff): the body goes,
    the row stays so replies keep their thread and comment_count keeps counting rows. No
    analytics event: the event contract has no comment-deleted type."""
    post = comment.post
    _moderation_role(actor=actor, community=post.community, author_id=comment.author_id)
    Comment.objects.filter(pk=comment.pk, deleted_at__isnull=True).update(
        deleted_at=occurred_at or timezone.now(), body=""
    )
    comment.refresh_from_db(fields=["deleted_at", "body"])


# ---------------------------------------------------------------------------- shares


def post_share(
    *,
    user: User,
    post: Post,
    target_community: Community | None = None,
    comment: str = "",
    occurred_at: datetime | None = None,
) -> Share:
    """Share a post, optionally into another community the user belongs to, with a short
    comment. Sharing a repost shares its original. With a target, a repost is created there
    (it shows the original inside it); it gets no post_created event of its own.

    The post_shared event is about the original post: post_id and community_id are the
    original's (so all of a post's engagement stays on its key and community), and the
    payload names the target community and the repost."""
    return _one(
        PostShare(user=user, post=post, target_community=target_community, comment=comment,
                  occurred_at=occurred_at)
    )  # fmt: skip
