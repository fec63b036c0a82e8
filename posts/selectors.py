"""Reads that rank, filter or assemble posts and comments.

Every feed is one query for the page (posts with their community, author and, for reposts,
the original with its community and author, plus whether the viewer liked each one), and
the paginator adds one COUNT: a constant number of queries whatever the page size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.paginator import Page
from django.db.models import BooleanField, Exists, OuterRef, QuerySet, Subquery, Value
from django.utils import timezone
from django.utils.text import Truncator

from analytics.models import PredictionRun, TrendPrediction
from analytics.selectors.trends import predictions_of_latest_batch
from communities.models import Community, Membership
from core.web import page_of
from posts.models import Comment, Like, Post

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

SORTS = ("hot", "new", "top", "trending")
TOP_PERIODS = {"day": timedelta(days=1), "week": timedelta(days=7), "all": None}
DEFAULT_SORT, DEFAULT_PERIOD = "hot", "week"
THREADS_PAGE_SIZE = 30
MAX_INDENT = 6


@dataclass(frozen=True)
class FeedOrder:
    sort: str = DEFAULT_SORT
    period: str = DEFAULT_PERIOD

    @classmethod
    def parse(cls, sort: str | None, period: str | None) -> FeedOrder:
        """Unknown values fall back to the defaults (they come from the query string)."""
        return cls(
            sort=sort if sort in SORTS else DEFAULT_SORT,
            period=period if period in TOP_PERIODS else DEFAULT_PERIOD,
        )


DEFAULT_ORDER = FeedOrder()


def _visible_posts() -> QuerySet[Post]:
    """The posts a viewer may see: where every feed and every action on a post starts."""
    return Post.objects.filter(deleted_at__isnull=True)


def _with_relations(posts: QuerySet[Post]) -> QuerySet[Post]:
    # Community and author are prefetched, not joined: with those INNER JOINs MariaDB may start
    # from auth_user and sort every post (3 s at 100k posts, bench/read_path.py); without them
    # the feed query walks the post_hot / post_created index and stops after one page. The
    # related rows then come by primary key, one query per relation (constant per page).
    return posts.select_related("shared_from").prefetch_related(  # LEFT JOIN: after posts_post
        "community", "author", "shared_from__community", "shared_from__author"
    )


def _posts_for_viewer(viewer: User | AnonymousUser) -> QuerySet[Post]:
    if viewer.is_authenticated:
        liked = Exists(Like.objects.filter(post=OuterRef("pk"), user=viewer))
    else:
        liked = Value(False, output_field=BooleanField())
    return _with_relations(_visible_posts()).annotate(liked=liked)


def _trending(posts: QuerySet[Post]) -> QuerySet[Post]:
    """Posts of the newest prediction batch, by predicted engagement (rank 1 first), with
    `trend_rank`, `trend_predicted`, `trend_score` and `trend_last_hour`; posts the batch
    did not rank are left out. The batch is picked in SQL, so the feed stays one query."""
    predictions = predictions_of_latest_batch()
    mine = predictions.filter(post_id=OuterRef("pk"))
    return (
        posts.filter(pk__in=predictions.values("post_id"))
        .annotate(
            trend_rank=Subquery(mine.values("rank")[:1]),
            trend_predicted=Subquery(mine.values("predicted_engagement")[:1]),
            trend_score=Subquery(mine.values("trend_score")[:1]),
            trend_last_hour=Subquery(mine.values("last_hour_engagement")[:1]),
        )
        .order_by("trend_rank", "-pk")
    )


def _ordered(posts: QuerySet[Post], order: FeedOrder, now: datetime | None) -> QuerySet[Post]:
    if order.sort == "trending":
        return _trending(posts)
    if order.sort == "new":
        return posts.order_by("-created_at", "-pk")
    if order.sort == "top":
        window = TOP_PERIODS[order.period]
        if window is not None:
            posts = posts.filter(created_at__gte=(now or timezone.now()) - window)
        return posts.order_by("-like_count", "-comment_count", "-created_at", "-pk")
    return posts.order_by("-hot_score", "-pk")


def post_list_feed(
    *, viewer: User | AnonymousUser, order: FeedOrder = DEFAULT_ORDER, now: datetime | None = None
) -> QuerySet[Post]:
    """The home feed: the viewer's communities, or every community for anonymous viewers."""
    posts = _posts_for_viewer(viewer)
    if viewer.is_authenticated:
        posts = posts.filter(community_id__in=community_ids_joined(user=viewer))
    return _ordered(posts, order, now)


def post_list_trending(*, viewer: User | AnonymousUser) -> QuerySet[Post]:
    """Every community's posts the newest prediction batch ranked, most predicted
    engagement first (the Trending page)."""
    return _trending(_posts_for_viewer(viewer))


def post_list_hot(*, viewer: User | AnonymousUser) -> QuerySet[Post]:
    """Every community's posts by hot score (the Trending page and API before the first
    prediction batch)."""
    return _ordered(_posts_for_viewer(viewer), FeedOrder(sort="hot"), None)


def post_list_community(
    *,
    community: Community,
    viewer: User | AnonymousUser,
    order: FeedOrder = DEFAULT_ORDER,
    now: datetime | None = None,
) -> QuerySet[Post]:
    return _ordered(_posts_for_viewer(viewer).filter(community=community), order, now)


def post_list_author(*, author: User, viewer: User | AnonymousUser) -> QuerySet[Post]:
    """A person's posts and reposts, newest first."""
    return _posts_for_viewer(viewer).filter(author=author).order_by("-created_at", "-pk")


def post_get_for_viewer(*, post_id: int, viewer: User | AnonymousUser) -> Post | None:
    return _posts_for_viewer(viewer).filter(pk=post_id).first()


def post_get_for_action(*, post_id: int, viewer: User | AnonymousUser) -> Post | None:
    """The post a viewer likes, comments on or shares, if they may see it: one query, without
    what a page shows (related rows, liked_by_me)."""
    return _visible_posts().filter(pk=post_id).first()


def comment_threads(*, post: Post, page_number: str | int | None) -> Page:
    """A page of top-level comments (oldest first) with all their replies, loaded with one
    query for all the threads on the page. `page.object_list` is the flattened thread list,
    each comment in reading order with `.indent` (its depth, capped for display), so
    templates render any depth without recursion."""
    roots = Comment.objects.filter(post=post, parent__isnull=True).select_related("author")
    page = page_of(roots.order_by("created_at", "pk"), page_number, THREADS_PAGE_SIZE)
    threads = list(page.object_list)
    children: dict[int, list[Comment]] = {}
    replies = (
        Comment.objects.filter(post=post, root_id__in=[c.pk for c in threads])
        .select_related("author")
        .order_by("created_at", "pk")
    )
    for reply in replies:
        children.setdefault(reply.parent_id, []).append(reply)
    flat: list[Comment] = []
    stack = list(reversed(threads))
    while stack:
        comment = stack.pop()
        comment.indent = min(comment.depth, MAX_INDENT)
        flat.append(comment)
        stack.extend(reversed(children.get(comment.pk, [])))
    page.object_list = flat
    return page


def share_targets(*, user: User, post: Post) -> QuerySet[Community]:
    """Communities the user can share `post` into: theirs, except the original's own."""
    original_community_id = post.content.community_id
    return (
        Community.objects.filter(memberships__user=user)
        .exclude(pk=original_community_id)
        .order_by("name")
    )


def post_list_api(
    *,
    viewer: User | AnonymousUser,
    order: FeedOrder = DEFAULT_ORDER,
    community_slug: str | None = None,
    author_username: str | None = None,
    kind: str | None = None,
) -> QuerySet[Post]:
    """Every visible post, optionally narrowed by community, author and kind, in one of the
    feed orders. Unknown filter values give an empty list, not an error."""
    posts = _narrowed(
        _posts_for_viewer(viewer),
        community_slug=community_slug,
        author_username=author_username,
        kind=kind,
    )
    return _ordered(posts, order, None)


def _narrowed(
    posts: QuerySet[Post],
    *,
    community_slug: str | None,
    author_username: str | None,
    kind: str | None,
) -> QuerySet[Post]:
    """The feed filters shared by the page feeds and the listings' ranking query."""
    if community_slug:
        posts = posts.filter(community__slug=community_slug)
    if author_username:
        posts = posts.filter(author__username=author_username)
    if kind:
        posts = posts.filter(kind=kind)
    return posts


def post_ranking(
    *,
    order: FeedOrder = DEFAULT_ORDER,
    community_id: int | None = None,
    joined_by: User | None = None,
    community_slug: str | None = None,
    author_username: str | None = None,
    kind: str | None = None,
    now: datetime | None = None,
) -> QuerySet[Post]:
    """Visible posts in a feed order, narrowed like the feeds above, without related rows or
    the viewer's bits: what the Redis listings are built from (posts/listings.py), and what
    answers when a listing cannot."""
    posts = _visible_posts()
    if community_id is not None:
        posts = posts.filter(community_id=community_id)
    if joined_by is not None:
        posts = posts.filter(community_id__in=community_ids_joined(user=joined_by))
    posts = _narrowed(
        posts, community_slug=community_slug, author_username=author_username, kind=kind
    )
    return _ordered(posts, order, now)


RANK_FIELDS = ("pk", "community_id", "created_at", "like_count", "comment_count", "hot_score")


def post_rank_rows(post_ids: Iterable[int]) -> list[dict[str, Any]]:
    """What places posts in the listings: RANK_FIELDS and `deleted_at`, deleted posts too."""
    return list(Post.objects.filter(pk__in=list(post_ids)).values(*RANK_FIELDS, "deleted_at"))


def repost_ids(post_ids: Iterable[int]) -> list[int]:
    """Reposts of these posts (their cards show the original)."""
    return list(Post.objects.filter(shared_from_id__in=list(post_ids)).values_list("pk", flat=True))


def posts_for_cards(post_ids: Iterable[int]) -> dict[int, Post]:
    """Visible posts by id with everything a card or the API shows, not the viewer's bits."""
    return {post.pk: post for post in _with_relations(_visible_posts().filter(pk__in=post_ids))}


def post_ids_liked(*, viewer: User | AnonymousUser, post_ids: Iterable[int]) -> set[int]:
    """Which of these posts the viewer likes (one query; none for anonymous viewers)."""
    post_ids = list(post_ids)
    if not viewer.is_authenticated or not post_ids:
        return set()
    liked = Like.objects.filter(user=viewer, post_id__in=post_ids)
    return set(liked.values_list("post_id", flat=True))


def community_ids_joined(*, user: User) -> QuerySet:
    return Membership.objects.filter(user=user).values_list("community_id", flat=True)


def community_id_for_slug(slug: str) -> int | None:
    return Community.objects.filter(slug=slug).values_list("pk", flat=True).first()


def comment_list_for_post(*, post: Post) -> QuerySet[Comment]:
    """A post's comments, oldest first, each with its parent id and depth (a flat list a
    client can thread)."""
    return Comment.objects.filter(post=post).select_related("author").order_by("created_at", "pk")


def trending_post_list(*, run: PredictionRun | None, limit: int) -> list[TrendPrediction]:
    """A prediction batch's best-ranked predictions whose posts are still visible, each with
    its post, community and author loaded (the Trending API)."""
    if run is None:
        return []
    rows = (
        TrendPrediction.objects.filter(run=run, post__deleted_at__isnull=True)
        .select_related("post", "post__community", "post__author")
        .order_by("rank")
    )
    return list(rows[:limit])


def post_label(post: Post) -> str:
    """A short name for a post in lists (the dashboard): its text, or its kind and id."""
    content = post.content
    text = Truncator(" ".join(content.text.split())).chars(80)
    if content.kind == Post.Kind.QUOTE:
        return f"“{text}”" if text else f"Quote #{post.pk}"
    return text or f"{content.kind.capitalize()} #{post.pk}"


def posts_by_id(ids: list[int]) -> dict[int, Post]:
    """Posts (deleted ones too) with their community and, for reposts, the original."""
    return Post.objects.select_related("community", "author", "shared_from").in_bulk(ids)
