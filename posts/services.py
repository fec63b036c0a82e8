"""Writes for posts, likes, comments and shares.

Every state change appends its analytics event in the same transaction. Counters on Post are
changed with F() expressions in that transaction, after the post row is locked
(select_for_update), and `hot_score` is then recomputed in SQL from the stored counters (see
posts.ranking), so counters and score never drift from the rows, whatever the concurrency.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from communities.models import Community, Membership
from communities.services import user_require_active
from events.envelope import EventType
from events.services import event_append
from posts import listings, ranking
from posts import media as media_lib
from posts.models import Comment, Like, Post, Share

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

TEXT_MAX = 5000
ATTRIBUTION_MAX = 200
COMMENT_MAX = 5000
SHARE_COMMENT_MAX = 300


# ---------------------------------------------------------------------------- helpers


def _membership(*, user: User, community: Community) -> Membership | None:
    return Membership.objects.filter(user=user, community=community).first()


def _require_member(*, user: User, community: Community, action: str) -> None:
    user_require_active(user)
    if _membership(user=user, community=community) is None:
        raise PermissionDenied(f"Join c/{community.slug} to {action}.")


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


def _post_lock(post: Post) -> Post:
    """Lock the post row for this transaction; rejects deleted posts."""
    locked = Post.objects.select_for_update().get(pk=post.pk)
    if locked.is_deleted:
        raise ValidationError("This post has been deleted.", code="deleted")
    return locked


def _counter_add(post: Post, **deltas: int) -> None:
    """Add to counters and recompute hot_score. Caller must hold the post's row lock."""
    Post.objects.filter(pk=post.pk).update(
        **{name: F(name) + delta for name, delta in deltas.items()}
    )
    Post.objects.filter(pk=post.pk).update(hot_score=ranking.hot_score_expression(post.created_at))


def _counters_refresh(post: Post) -> None:
    """Copy the new counters onto the caller's instance."""
    post.refresh_from_db(fields=["like_count", "comment_count", "share_count", "hot_score"])


# ---------------------------------------------------------------------------- posts


def _post_validate(*, kind: str, text: str, attribution: str, media: File | None) -> None:
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


def post_create(
    *,
    author: User,
    community: Community,
    kind: str,
    text: str = "",
    attribution: str = "",
    media: File | None = None,
    occurred_at: datetime | None = None,
) -> Post:
    """Create a quote, image or video post. Media is validated by content and stored before
    the transaction; if the transaction fails, the stored files are deleted again."""
    _require_member(user=author, community=community, action="post")
    text, attribution = text.strip(), attribution.strip()
    _post_validate(kind=kind, text=text, attribution=attribution, media=media)
    occurred_at = occurred_at or timezone.now()
    processed = _media_process(kind=kind, media=media) if media is not None else None
    try:
        if processed is not None:
            media_name, thumbnail_name = media_lib.media_store(processed)
        with transaction.atomic():
            post = Post(
                community=community,
                author=author,
                kind=kind,
                text=text,
                attribution=attribution,
                created_at=occurred_at,
                hot_score=ranking.hot_score(engagement=0, created_at=occurred_at),
            )
            if processed is not None:
                post.media.name = media_name
                post.thumbnail.name = thumbnail_name
                post.media_content_type = processed.content_type
                post.media_size = processed.size
                post.media_width = processed.width
                post.media_height = processed.height
                post.media_duration = processed.duration
            post.save()
            event_append(
                event_type=EventType.POST_CREATED,
                actor_id=author.pk,
                community_id=community.pk,
                post_id=post.pk,
                payload=_post_created_payload(post),
                occurred_at=occurred_at,
            )
            listings.posts_changed_on_commit([post.pk])
    except BaseException:
        if processed is not None:
            media_lib.media_delete(processed.stored_names)
        raise
    return post


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
    if viewer is None or not viewer.is_authenticated or post.is_deleted:
        return False
    with transaction.atomic():
        event_append(
            event_type=EventType.POST_VIEWED,
            actor_id=viewer.pk,
            community_id=post.community_id,
            post_id=post.pk,
            payload={"kind": post.kind, "author_id": post.author_id},
            occurred_at=occurred_at or timezone.now(),
        )
    return True


# ---------------------------------------------------------------------------- likes


def post_like(*, user: User, post: Post, occurred_at: datetime | None = None) -> Like:
    """Like a post. Idempotent: liking again returns the existing like and appends nothing."""
    user_require_active(user)
    occurred_at = occurred_at or timezone.now()
    with transaction.atomic():
        locked = _post_lock(post)
        existing = Like.objects.filter(user=user, post=locked).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                like = Like.objects.create(user=user, post=locked, created_at=occurred_at)
        except IntegrityError:
            # The row lock serialises likes of one post, so this only happens if a like was
            # written without it; the unique (user, post) constraint still keeps one row.
            return Like.objects.get(user=user, post=locked)
        _counter_add(locked, like_count=1)
        event_append(
            event_type=EventType.POST_LIKED,
            actor_id=user.pk,
            community_id=locked.community_id,
            post_id=locked.pk,
            payload={"author_id": locked.author_id, "kind": locked.kind},
            occurred_at=occurred_at,
        )
        listings.posts_changed_on_commit([locked.pk])
    _counters_refresh(post)
    return like


def post_unlike(*, user: User, post: Post, occurred_at: datetime | None = None) -> bool:
    """Remove the user's like. Returns False (and appends nothing) if there was none."""
    user_require_active(user)
    occurred_at = occurred_at or timezone.now()
    with transaction.atomic():
        locked = _post_lock(post)
        deleted, _ = Like.objects.filter(user=user, post=locked).delete()
        if not deleted:
            return False
        _counter_add(locked, like_count=-1)
        event_append(
            event_type=EventType.POST_UNLIKED,
            actor_id=user.pk,
            community_id=locked.community_id,
            post_id=locked.pk,
            payload={"author_id": locked.author_id, "kind": locked.kind},
            occurred_at=occurred_at,
        )
        listings.posts_changed_on_commit([locked.pk])
    _counters_refresh(post)
    return True


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
    _require_member(user=author, community=post.community, action="comment")
    body = body.strip()
    if not body:
        raise ValidationError({"body": "Write something first."})
    if len(body) > COMMENT_MAX:
        raise ValidationError({"body": f"At most {COMMENT_MAX} characters."})
    if parent is not None and parent.post_id != post.pk:
        raise ValidationError({"parent": "You can only reply to a comment on the same post."})
    if parent is not None and parent.is_deleted:
        raise ValidationError({"parent": "This comment was deleted; it can't be replied to."})
    occurred_at = occurred_at or timezone.now()
    with transaction.atomic():
        locked = _post_lock(post)
        comment = Comment.objects.create(
            post=locked,
            author=author,
            parent=parent,
            root_id=(parent.root_id or parent.pk) if parent is not None else None,
            depth=parent.depth + 1 if parent is not None else 0,
            body=body,
            created_at=occurred_at,
        )
        _counter_add(locked, comment_count=1)
        event_append(
            event_type=EventType.COMMENT_CREATED,
            actor_id=author.pk,
            community_id=locked.community_id,
            post_id=locked.pk,
            payload={
                "comment_id": comment.pk,
                "parent_id": parent.pk if parent is not None else None,
                "depth": comment.depth,
                "body_length": len(body),
                "post_author_id": locked.author_id,
            },
            occurred_at=occurred_at,
        )
        listings.posts_changed_on_commit([locked.pk])
    _counters_refresh(post)
    return comment


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
    user_require_active(user)
    comment = comment.strip()
    if len(comment) > SHARE_COMMENT_MAX:
        raise ValidationError({"comment": f"At most {SHARE_COMMENT_MAX} characters."})
    original = post.shared_from if post.shared_from_id else post
    if target_community is not None:
        if target_community.pk == original.community_id:
            raise ValidationError(
                {"target_community": "Choose a community other than the post's own."}
            )
        if _membership(user=user, community=target_community) is None:
            raise PermissionDenied(f"Join c/{target_community.slug} to share into it.")
    occurred_at = occurred_at or timezone.now()
    with transaction.atomic():
        locked = _post_lock(original)
        repost = None
        if target_community is not None:
            repost = Post.objects.create(
                community=target_community,
                author=user,
                kind=locked.kind,
                text=comment,
                shared_from=locked,
                created_at=occurred_at,
                hot_score=ranking.hot_score(engagement=0, created_at=occurred_at),
            )
        share = Share.objects.create(
            post=locked,
            user=user,
            target_community=target_community,
            repost=repost,
            comment=comment,
            created_at=occurred_at,
        )
        _counter_add(locked, share_count=1)
        event_append(
            event_type=EventType.POST_SHARED,
            actor_id=user.pk,
            community_id=locked.community_id,
            post_id=locked.pk,
            payload={
                "share_id": share.pk,
                "target_community_id": target_community.pk if target_community else None,
                "repost_id": repost.pk if repost else None,
                "comment_length": len(comment),
                "author_id": locked.author_id,
                "kind": locked.kind,
            },
            occurred_at=occurred_at,
        )
        changed = [locked.pk] if repost is None else [locked.pk, repost.pk]
        listings.posts_changed_on_commit(changed, reposts=True)
    if original is post:
        _counters_refresh(post)
    return share
