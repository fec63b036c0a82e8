"""Post cards (the HTML of a post in a feed) and the API's post objects, cached in Redis per
post version.

A post's version is an opaque token in Redis, replaced after every commit that changes what
its card shows (counters, deletion, an edit; for a repost also its original's share count
and deletion: posts.listings calls `versions_bump`). A cached card sits under the post id
and the version, so a reader that read the old version may still store the old card, but
nobody reads it again: the race that delete-on-write caching has cannot happen here. A
missing version is created by the read that finds none, and a reader always reads the
version before it reads the database.

The cached HTML is the same for every viewer. What depends on the viewer is added per
request, outside the cached fragment:
- liked or not, and signed in or not: three variants of each card (`anon`, `like`,
  `liked`), chosen per post with one query for the viewer's likes among the page's posts;
- the CSRF token, the page's address (the like form's `next`) and the post's age ("3 minutes
  ago"): marks in the cached HTML, replaced per request. A mark starts with "<", which no
  escaped user text can contain.
The API's objects are cached without `liked_by_me` and with relative media URLs, both added
per request.

Without Redis everything is rendered from the database, as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from redis import Redis
from redis.client import Pipeline

from core.cache import cache_key, redis_call, version_bump, versioned_lookup
from posts import selectors

if TYPE_CHECKING:
    from posts.models import Post

CSRF_MARK = mark_safe("<@csrf@>")
NEXT_MARK = mark_safe("<@next@>")
AGE_MARK = mark_safe("<@age@>")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
API_KIND = "api"

Wanted = tuple[int, str]  # (post id, kind: "card-anon" | "card-like" | "card-liked" | "api")


@dataclass(frozen=True)
class Card:
    pk: int
    html: SafeString
    post: Post | None = None  # when the page has the post itself (e.g. trending's ranks)


def versions_bump(pipe: Pipeline, client: Redis, post_ids: Iterable[int]) -> None:
    """Queue new versions for these posts (their cached cards are then never read again)."""
    for pk in post_ids:
        version_bump(pipe, _version_key(client, pk))


def _ttl() -> int:
    return settings.FEED_CARD_TTL_SECONDS


def _version_key(client: Redis, pk: int) -> str:
    return cache_key(client, "pv", pk)


def _versions(client: Redis, post_ids: list[int]) -> dict[int, str]:
    """The posts' current versions (created when missing)."""
    found = _lookup(client, [(pk, "pv") for pk in post_ids])
    return {pk: version for (pk, _), (version, _) in found.items()}


def _lookup(client: Redis, wanted: list[Wanted]) -> dict[Wanted, tuple[str, str | None]]:
    """Each wanted (post, kind): the post's version and the text stored at it."""
    items = [(_version_key(client, pk), cache_key(client, kind, pk, "")) for pk, kind in wanted]
    found = versioned_lookup(client, items)
    return {
        item: (version, text and text.decode())
        for item, (version, text) in zip(wanted, found, strict=True)
    }


def _cached(
    client: Redis, wanted: list[Wanted], render: Callable[[list[Wanted]], dict[Wanted, str]]
) -> dict[Wanted, str]:
    """The stored text of each wanted (post, kind) at the post's current version; the missing
    ones rendered (from the database) and stored."""
    looked_up = _lookup(client, wanted)
    found = {item: text for item, (_, text) in looked_up.items() if text is not None}
    missing = [item for item in wanted if item not in found]
    if missing:
        rendered = render(missing)
        with client.pipeline(transaction=False) as pipe:
            for (pk, kind), text in rendered.items():
                version = looked_up[(pk, kind)][0]
                pipe.set(cache_key(client, kind, pk, version), text, ex=_ttl())
            pipe.execute()
        found.update(rendered)
    return found


def _stored(wanted: list[Wanted], render: Callable[[list[Wanted]], dict[Wanted, str]]):
    found = redis_call(lambda client: _cached(client, wanted, render))
    return render(wanted) if found is None else found


# ---------------------------------------------------------------------------- HTML cards


class _Viewer:
    def __init__(self, *, authenticated: bool) -> None:
        self.is_authenticated = authenticated


class _MarkedRequest:
    @staticmethod
    def get_full_path() -> SafeString:
        return NEXT_MARK


def _card_kind(viewer_known: bool, liked: bool) -> str:
    if not viewer_known:
        return "card-anon"
    return "card-liked" if liked else "card-like"


def _card_html(post: Post, kind: str) -> str:
    post.liked = kind == "card-liked"
    context = {
        "post": post,
        "user": _Viewer(authenticated=kind != "card-anon"),
        "request": _MarkedRequest(),
        "csrf_token": CSRF_MARK,
        "age": AGE_MARK,
    }
    micros = (post.created_at - EPOCH) // timedelta(microseconds=1)
    return f"{micros} {render_to_string('posts/_post_card.html', context)}"


def _cards_render(loaded: dict[int, Post] | None):
    def render(wanted: list[Wanted]) -> dict[Wanted, str]:
        posts = dict(loaded or {})
        absent = {pk for pk, _ in wanted} - posts.keys()
        if absent:
            posts.update(selectors.posts_for_cards(absent))
        return {(pk, kind): _card_html(posts[pk], kind) for pk, kind in wanted if pk in posts}

    return render


def cards_for(
    post_ids: list[int], *, request: HttpRequest, posts: Iterable[Post] = ()
) -> list[Card]:
    """The cards of these posts, in order, for this request's viewer. POSTS: those already
    loaded with their related rows (rendered from them on a cache miss). A post that is no
    longer visible has no card."""
    viewer = request.user
    liked = selectors.post_ids_liked(viewer=viewer, post_ids=post_ids)
    wanted = [(pk, _card_kind(viewer.is_authenticated, pk in liked)) for pk in post_ids]
    loaded = {post.pk: post for post in posts}
    stored = _stored(wanted, _cards_render(loaded))
    token = get_token(request) if viewer.is_authenticated else ""
    path = escape(request.get_full_path())
    cards = []
    for pk, kind in wanted:
        if (pk, kind) in stored:
            html = _filled(stored[(pk, kind)], token=token, path=path)
            cards.append(Card(pk, html, loaded.get(pk)))
    return cards


@lru_cache(maxsize=4096)
def _age_label(minutes: int, day: date, language: str) -> str:
    return escape(str(naturaltime(timezone.now() - timedelta(minutes=minutes, seconds=30))))


def _age(created: datetime) -> str:
    """`naturaltime`, from a cache keyed by whole minutes of age (the label changes at most
    once a minute past the first one; today's date keeps calendar months right)."""
    age = timezone.now() - created
    if age < timedelta(minutes=1):
        return escape(str(naturaltime(created)))
    return _age_label(age // timedelta(minutes=1), date.today(), get_language())


def _filled(stored: str, *, token: str, path: str) -> SafeString:
    micros, html = stored.split(" ", 1)
    html = html.replace(AGE_MARK, _age(EPOCH + timedelta(microseconds=int(micros))))
    if token:
        html = html.replace(CSRF_MARK, token).replace(NEXT_MARK, path)
    return mark_safe(html)  # noqa: S308 - rendered by the template engine, marks escaped


# ---------------------------------------------------------------------------- API objects


def api_posts(
    post_ids: list[int],
    *,
    request: HttpRequest,
    serialize: Callable[[list[Post]], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The API's objects of these posts, in order, for this request's viewer. SERIALIZE turns
    posts into objects (without a request: media URLs relative)."""

    def render(wanted: list[Wanted]) -> dict[Wanted, str]:
        posts = selectors.posts_for_cards(pk for pk, _ in wanted)
        found = [posts[pk] for pk, _ in wanted if pk in posts]
        return {(data["id"], API_KIND): json.dumps(data) for data in serialize(found)}

    liked = selectors.post_ids_liked(viewer=request.user, post_ids=post_ids)
    stored = _stored([(pk, API_KIND) for pk in post_ids], render)
    objects = []
    for pk in post_ids:
        if (pk, API_KIND) not in stored:
            continue
        data = json.loads(stored[(pk, API_KIND)])
        data["liked_by_me"] = pk in liked
        for field in ("media_url", "thumbnail_url"):
            if data[field]:
                data[field] = request.build_absolute_uri(data[field])
        objects.append(data)
    return objects
