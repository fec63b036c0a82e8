"""Ranked listings kept in Redis, so that a page of a feed is a Redis read, not a query.

For each feed (the site, each community) and each order (hot, new, top of the day, week and
all time, trending) a sorted set holds the feed's first FEED_LISTING_SIZE posts in the order
of the database query (`selectors.post_ranking`):

    order     score                                          member (ties: higher first)
    hot       hot_score                                      post id, 13 digits
    new       created_at in microseconds                     post id, 13 digits
    top-*     like_count * 2**24 + comment_count (< 2**24)   created_at µs, 17 digits + id
    trending  -rank in the newest prediction batch           post id, 13 digits

A person's home feed merges the listings of the communities they joined. Beside each set a
meta hash holds `complete` (the set holds the whole feed) and `count` (the feed's length,
capped like the pages' count, as of the last build). An incomplete set is always an exact
prefix of its feed: the updates below drop a post that would rank below its last entry,
and a read that needs more than the prefix holds goes to the database (`Feed`). So deep
pages, filters the listings do not cover, a Redis miss or outage all give the database
query's answer, never an error.

Refresh: every service that changes what ranks a post calls `posts_changed_on_commit`; after
the commit it reads the posts' ranking columns once, logs the posts and finds which of their
listings are built (one Redis transaction), updates every built listing of the post's
community and of the site with one Lua script each (insert, move, drop, trim), and bumps
the posts' card versions (posts/cards.py). A listing is built on its first read and
rebuilt by the periodic `listings_recompute` (Celery beat, FEED_RECOMPUTE_SECONDS, in the
spirit of Lemmy's scheduled rank update): top-of-period windows move on, trending follows
the newest prediction batch, and a lost or reordered update is repaired. An update that
commits while a build reads the database is not lost: updates also log the post in a
short change log, and a build re-applies the posts logged since it started.

Reads also keep a top-of-period listing exact between rebuilds: entries whose post has left
the window are removed when a read meets one.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from redis import Redis
from redis.client import Pipeline
from redis.commands.core import Script

from core.cache import cache_key, redis_call
from core.web import COUNT_CAP, count_capped
from posts import cards, selectors
from posts.selectors import DEFAULT_PERIOD, TOP_PERIODS, FeedOrder

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from posts.models import Post

TOP_SHIFT = 2**24
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LISTING_ORDERS = (
    FeedOrder("hot"),
    FeedOrder("new"),
    FeedOrder("top", "day"),
    FeedOrder("top", "week"),
    FeedOrder("top", "all"),
    FeedOrder("trending"),
)
CHANGES_KEEP_SECONDS = 600
BUILD_CLOCK_MARGIN_SECONDS = 5.0  # web and worker clocks may differ a little
MERGE_BUILDS_MAX = 20  # listings a home feed may build in one request before it asks the DB

# Move, insert or drop one post in one listing. KEYS: the set, its meta hash. ARGV: member,
# score ("" removes), size. A listing that was never built is left alone. An incomplete one
# keeps in its meta a floor: the highest (score, member) of any post outside it (the first
# post past it when it was built, then the highest entry trimmed off). A post that ranks
# above the floor belongs in the set; one at or below it may not be in it, since a post
# outside could rank above it.
_UPDATE_LUA = """
local key, meta = KEYS[1], KEYS[2]
local member, size = ARGV[1], tonumber(ARGV[3])
if ARGV[2] == '' then
  return redis.call('ZREM', key, member)
end
if redis.call('EXISTS', meta) == 0 then
  return 0
end
local score = tonumber(ARGV[2])
local floor = redis.call('HMGET', meta, 'floor_score', 'floor_member')
if floor[1] then
  local floor_score = tonumber(floor[1])
  if score < floor_score or (score == floor_score and member <= floor[2]) then
    return redis.call('ZREM', key, member)
  end
end
redis.call('ZADD', key, score, member)
if redis.call('TTL', key) == -1 then
  redis.call('EXPIRE', key, math.max(redis.call('TTL', meta), 1))
end
local extra = redis.call('ZCARD', key) - size
if extra > 0 then
  local cut = redis.call('ZRANGE', key, extra - 1, extra - 1, 'WITHSCORES')
  redis.call('ZREMRANGEBYRANK', key, 0, extra - 1)
  redis.call('HSET', meta, 'complete', '0', 'floor_score', cut[2], 'floor_member', cut[1])
end
return 1
"""
_scripts: dict[str, Script] = {}


def _update_script(client: Redis) -> Script:
    if "update" not in _scripts:
        _scripts["update"] = client.register_script(_UPDATE_LUA)
    return _scripts["update"]


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _moment(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


# ---------------------------------------------------------------------------- one listing


@dataclass(frozen=True)
class Listing:
    community_id: int | None  # None: the whole site
    order: FeedOrder

    @property
    def name(self) -> str:
        scope = "site" if self.community_id is None else f"c{self.community_id}"
        sort = f"top-{self.order.period}" if self.order.sort == "top" else self.order.sort
        return f"{scope}:{sort}"

    @classmethod
    def from_name(cls, name: str) -> Listing:
        scope, sort = name.split(":")
        sort, _, period = sort.partition("-")
        community_id = None if scope == "site" else int(scope[1:])
        return cls(community_id, FeedOrder(sort, period or DEFAULT_PERIOD))

    def keys(self, client: Redis) -> tuple[str, str]:
        return cache_key(client, "lst", self.name), cache_key(client, "lstm", self.name)

    def ranking(self) -> QuerySet[Post]:
        return selectors.post_ranking(order=self.order, community_id=self.community_id)

    def member(self, pk: int, created_at: datetime) -> str:
        if self.order.sort == "top":
            return f"{_micros(created_at):017d}{pk:013d}"
        return f"{pk:013d}"

    def score(self, row: dict[str, Any], now: datetime) -> float | None:
        """The post's score here, or None when it does not belong (deleted, out of the
        window). Trending scores come only from builds."""
        if row.get("deleted_at") is not None:
            return None
        sort = self.order.sort
        if sort == "hot":
            return row["hot_score"]
        if sort == "new":
            return float(_micros(row["created_at"]))
        if sort == "trending":
            return -float(row["trend_rank"])
        window = TOP_PERIODS[self.order.period]
        if window is not None and row["created_at"] < now - window:
            return None
        return float(row["like_count"] * TOP_SHIFT + min(row["comment_count"], TOP_SHIFT - 1))

    def cutoff_micros(self) -> int | None:
        """Top of the day/week: members created before this have left the window."""
        window = TOP_PERIODS.get(self.order.period) if self.order.sort == "top" else None
        return None if window is None else _micros(timezone.now() - window)


def _listings_of(community_id: int) -> list[Listing]:
    return [Listing(scope, order) for scope in (None, community_id) for order in LISTING_ORDERS]


def _idle_seconds() -> int:
    return settings.FEED_LISTING_IDLE_SECONDS


def _build(client: Redis, listing: Listing) -> dict[str, Any]:
    """(Re)build a listing from the database; returns its meta."""
    since = time.time() - BUILD_CLOCK_MARGIN_SECONDS
    now = timezone.now()
    size = settings.FEED_LISTING_SIZE
    ranking = listing.ranking()
    fields = [*selectors.RANK_FIELDS] + (["trend_rank"] if listing.order.sort == "trending" else [])
    rows = list(ranking.values(*fields)[: size + 1])
    scores = {listing.member(row["pk"], row["created_at"]): listing.score(row, now) for row in rows}
    entries = {member: score for member, score in scores.items() if score is not None}
    meta: dict[str, Any] = {"complete": 1, "count": len(entries)}
    if len(entries) > size:
        floor_member, floor_score = list(entries.items())[size]
        del entries[floor_member]
        meta = {
            "complete": 0,
            "count": count_capped(ranking),
            "floor_score": repr(floor_score),
            "floor_member": floor_member,
        }
    key, meta_key = listing.keys(client)
    with client.pipeline() as pipe:  # MULTI: readers see the old listing or the new one
        pipe.delete(key, meta_key)
        if entries:
            pipe.zadd(key, entries)
            pipe.expire(key, _idle_seconds())
        pipe.hset(meta_key, mapping=meta)
        pipe.expire(meta_key, _idle_seconds())
        pipe.execute()
    changed = client.zrangebyscore(cache_key(client, "lst-changes"), since, "+inf")
    if changed:
        _apply(client, [int(pk) for pk in changed], only=listing)
    return meta


def _update(pipe: Pipeline, client: Redis, listing: Listing, row: dict[str, Any], now) -> None:
    if listing.order.sort == "trending" and row["deleted_at"] is None:
        return
    score = listing.score(row, now)
    _update_script(client)(
        keys=listing.keys(client),
        args=[
            listing.member(row["pk"], row["created_at"]),
            "" if score is None else repr(score),
            settings.FEED_LISTING_SIZE,
        ],
        client=pipe,
    )


def _apply(
    client: Redis, post_ids: list[int], *, reposts: bool = False, only: Listing | None = None
) -> None:
    """Bring the listings and the card versions of these posts up to date from their rows as
    committed now; with ONLY, just that listing (a build's repair: no log, no versions)."""
    rows = selectors.post_rank_rows(post_ids)
    now = timezone.now()
    if only is not None:
        targets = {
            row["pk"]: [only] if only.community_id in (None, row["community_id"]) else []
            for row in rows
        }
    else:
        targets = _log_and_find_built(client, rows)
    with client.pipeline() as pipe:
        for row in rows:
            for listing in targets[row["pk"]]:
                _update(pipe, client, listing, row, now)
        if only is None:
            shown_in = selectors.repost_ids(post_ids) if reposts else []
            cards.versions_bump(pipe, client, [row["pk"] for row in rows] + shown_in)
        pipe.execute()


def _log_and_find_built(client: Redis, rows: list[dict[str, Any]]) -> dict[int, list[Listing]]:
    """Log the posts in the change log and, in the same Redis transaction, find which of
    their listings are built: each post's built listings. A listing built after this reads
    the log and re-applies the posts (`_build`); one built before it is updated by the
    caller. Only built listings get a script call, so writes that nobody's feed shows yet
    (a back-fill of thousands of posts a batch) cost one EXISTS per listing, not one script
    per post and listing."""
    stamp = time.time()
    changes = cache_key(client, "lst-changes")
    of_community = {c: _listings_of(c) for c in {row["community_id"] for row in rows}}
    candidates = list(dict.fromkeys(lst for lsts in of_community.values() for lst in lsts))
    with client.pipeline() as pipe:
        if rows:
            pipe.zadd(changes, {str(row["pk"]): stamp for row in rows})
        pipe.zremrangebyscore(changes, "-inf", stamp - CHANGES_KEEP_SECONDS)
        pipe.expire(changes, CHANGES_KEEP_SECONDS)
        for listing in candidates:
            pipe.exists(listing.keys(client)[1])
        results = pipe.execute()
    found = results[len(results) - len(candidates) :]
    built = {listing for listing, exists in zip(candidates, found, strict=True) if exists}
    return {
        row["pk"]: [lst for lst in of_community[row["community_id"]] if lst in built]
        for row in rows
    }


class _Refresh:
    """The on-commit callback of one transaction: every post it changed, refreshed once."""

    def __init__(self) -> None:
        self.post_ids: set[int] = set()
        self.reposts = False
        self.done = False

    def __call__(self) -> None:
        self.done = True
        ids = sorted(self.post_ids)
        redis_call(lambda client: _apply(client, ids, reposts=self.reposts), invalidates=True)


def posts_changed_on_commit(post_ids: Iterable[int], *, reposts: bool = False) -> None:
    """After the current transaction commits, update the listings and card versions of these
    posts (created, liked, commented, shared, deleted, edited). REPOSTS: what their reposts
    show changed too (the original's share count, its deletion). One callback per
    transaction; a failure is logged (robust), never raised into the committed action."""
    refresh = next(
        (
            func
            for _, func, _ in connection.run_on_commit
            if isinstance(func, _Refresh) and not func.done
        ),
        None,
    )
    if refresh is None:
        refresh = _Refresh()
        transaction.on_commit(refresh, robust=True)
    refresh.post_ids.update(post_ids)
    refresh.reposts = refresh.reposts or reposts


def listings_recompute() -> int:
    """Rebuild every listing read in the last FEED_LISTING_IDLE_SECONDS; forget the others.
    Returns how many were rebuilt (0 without Redis)."""

    def work(client: Redis) -> int:
        active = cache_key(client, "lst-active")
        client.zremrangebyscore(active, "-inf", time.time() - _idle_seconds())
        client.expire(active, 2 * _idle_seconds())
        names = [name.decode() for name in client.zrange(active, 0, -1)]
        for name in names:
            _build(client, Listing.from_name(name))
        return len(names)

    return redis_call(work) or 0


# ---------------------------------------------------------------------------- reading


Entry = tuple[str, float]  # (member, score)


@dataclass(frozen=True)
class Bound:
    """A cursor position as a score bound: entries scoring below (`lt`) or above it."""

    op: str  # "lt" | "gt"
    score: float

    @property
    def redis(self) -> str:
        return f"({self.score!r}"


class _Source(Protocol):
    def count(self, client: Redis) -> int | None: ...

    def page(
        self, client: Redis, start: int, stop: int
    ) -> tuple[int, list[Entry] | None] | None: ...

    def read(
        self, client: Redis, start: int, stop: int, *, reverse: bool, bound: Bound | None
    ) -> list[Entry] | None: ...

    def bound(self, op: str, position: str) -> Bound | None: ...


def _meta(raw: dict[bytes, bytes]) -> dict[str, Any]:
    meta: dict[str, Any] = {name.decode(): value.decode() for name, value in raw.items()}
    meta["complete"], meta["count"] = int(meta["complete"]), int(meta["count"])
    return meta


def _decoded(pairs: Sequence[tuple[bytes, float]]) -> list[Entry]:
    return [(member.decode(), score) for member, score in pairs]


class _One:
    """One listing as a feed source."""

    def __init__(self, listing: Listing) -> None:
        self.listing = listing

    def count(self, client: Redis) -> int | None:
        found = self.page(client, 0, 0)
        return None if found is None else found[0]

    def page(self, client: Redis, start: int, stop: int) -> tuple[int, list[Entry] | None] | None:
        """The count and entries START..STOP, in one round trip when the listing is built
        (entries None: ask the database); builds it if it is missing."""
        with client.pipeline(transaction=False) as pipe:
            self.page_queue(pipe, client, start, stop)
            found = self.page_result(client, pipe.execute(), start, stop)
        if found is None:  # missing or pruned: once more after building or pruning
            with client.pipeline(transaction=False) as pipe:
                self.page_queue(pipe, client, start, stop)
                return self.page_result(client, pipe.execute(), start, stop, again=False)
        return found

    def page_queue(self, pipe: Pipeline, client: Redis, start: int, stop: int) -> None:
        """Queue the four reads of `page_result`."""
        key, meta_key = self.listing.keys(client)
        pipe.hgetall(meta_key).zcard(key)
        if stop > start:
            pipe.zrevrange(key, start, stop - 1, withscores=True)
        else:
            pipe.exists(key)
        pipe.zadd(cache_key(client, "lst-active"), {self.listing.name: time.time()})

    def page_result(
        self, client: Redis, results: list, start: int, stop: int, *, again: bool = True
    ) -> tuple[int, list[Entry] | None] | None:
        """The count and entries from `page_queue`'s reads; None after building a missing
        listing or pruning a stale one (read again), or when it is still missing."""
        raw, size, found, _ = results
        entries = _decoded(found) if stop > start else []
        if not raw:
            if again:
                _build(client, self.listing)
            return None
        if again and self._prune(client, entries):
            return None
        meta = _meta(raw)
        count = size if meta["complete"] else max(meta["count"], size)
        return count, entries if meta["complete"] or len(entries) == stop - start else None

    def bound(self, op: str, position: str) -> Bound | None:
        sort = self.listing.order.sort
        try:
            if sort == "hot":
                value = float(position)
            elif sort == "new":
                moment = parse_datetime(position)
                if moment is None or timezone.is_naive(moment):
                    return None
                value = float(_micros(moment))
            elif sort == "top":
                likes = int(position)
                value = float(likes * TOP_SHIFT if op == "lt" else (likes + 1) * TOP_SHIFT - 1)
            else:
                return None
        except (ValueError, OverflowError):
            return None
        return Bound(op, value) if math.isfinite(value) else None

    def read(
        self,
        client: Redis,
        start: int,
        stop: int,
        *,
        reverse: bool,
        bound: Bound | None,
        again: bool = True,
    ) -> list[Entry] | None:
        """Entries START..STOP (in the order, or reversed; past BOUND), or None when the
        listing cannot tell them (the database must). Builds the listing if it is missing."""
        key, meta_key = self.listing.keys(client)
        with client.pipeline(transaction=False) as pipe:
            pipe.hgetall(meta_key)
            pipe.zadd(cache_key(client, "lst-active"), {self.listing.name: time.time()})
            if not reverse and bound is None:
                pipe.zrevrange(key, start, stop - 1, withscores=True)
            elif not reverse and bound.op == "lt":
                pipe.zrevrangebyscore(key, bound.redis, "-inf", start, stop - start, True)
            elif reverse and bound is not None and bound.op == "gt":
                pipe.zrangebyscore(key, bound.redis, "+inf", start, stop - start, True)
            elif reverse and bound is None:
                pipe.zrange(key, start, stop - 1, withscores=True)
            else:
                return None
            raw, _, found = pipe.execute()
        if not raw:
            if not again:
                return None
            _build(client, self.listing)
            return self.read(client, start, stop, reverse=reverse, bound=bound, again=False)
        entries = _decoded(found)
        if again and self._prune(client, entries):
            return self.read(client, start, stop, reverse=reverse, bound=bound, again=False)
        meta = _meta(raw)
        if meta["complete"]:
            return entries
        if reverse:
            # Ascending past the position is exact only if every post above the position is
            # in the listing: the position is at or above the floor.
            if bound is None or bound.score < float(meta["floor_score"]):
                return None
            return entries
        return entries if len(entries) == stop - start else None

    def _prune(self, client: Redis, entries: list[Entry]) -> bool:
        """Remove every member that has left a top-of-period window, if ENTRIES show one."""
        cutoff = self.listing.cutoff_micros()
        if cutoff is None or all(int(member[:17]) >= cutoff for member, _ in entries):
            return False
        key = self.listing.keys(client)[0]
        stale = [m for m in client.zrange(key, 0, -1) if int(m[:17]) < cutoff]
        if stale:
            client.zrem(key, *stale)
        return True


class _Merged:
    """The listings of several communities, merged (a person's home feed)."""

    def __init__(self, listings: list[Listing]) -> None:
        self.sources = [_One(listing) for listing in listings]

    def count(self, client: Redis) -> int | None:
        found = self.page(client, 0, 0)
        return None if found is None else found[0]

    def bound(self, op: str, position: str) -> Bound | None:
        return None

    def read(
        self, client: Redis, start: int, stop: int, *, reverse: bool, bound: Bound | None
    ) -> list[Entry] | None:
        if reverse or bound is not None:
            return None
        found = self.page(client, start, stop)
        return None if found is None else found[1]

    def page(self, client: Redis, start: int, stop: int) -> tuple[int, list[Entry] | None] | None:
        """Every listing's first STOP entries in one round trip (the merged first STOP take
        at most STOP from any one listing), merged; missing listings built first, up to
        MERGE_BUILDS_MAX (more: the database answers)."""
        with client.pipeline(transaction=False) as pipe:
            for source in self.sources:
                source.page_queue(pipe, client, 0, stop)
            results = pipe.execute()
        if sum(not raw for raw in results[::4]) > MERGE_BUILDS_MAX:
            return None
        count, parts = 0, []
        for n, source in enumerate(self.sources):
            found = source.page_result(client, results[4 * n : 4 * n + 4], 0, stop)
            found = found or source.page(client, 0, stop)
            if found is None:
                return None
            count += found[0]
            parts.append(found[1])
        if any(part is None for part in parts):
            return min(count, COUNT_CAP), None
        merged = heapq.merge(*parts, key=lambda entry: (entry[1], entry[0]), reverse=True)
        return min(count, COUNT_CAP), list(merged)[start:stop]


# ---------------------------------------------------------------------------- feeds


class Feed:
    """A feed's post ids in one order, each as {"pk": id, <first ordering field>: value},
    from its Redis listing when that can answer, else from the database query. A Django
    Paginator takes it (slices, `count()`), and so does DRF's CursorPagination (`order_by`
    with the ordering or its reverse, `filter` on the first ordering field, slices), which
    then gives the same pages and cursors from either side."""

    def __init__(self, ranking: QuerySet[Post], source: _Source | None = None) -> None:
        self.ranking = ranking
        self.source = source
        self.ordering: tuple[str, ...] = tuple(ranking.query.order_by)
        self.field = self.ordering[0].lstrip("-")
        self.reverse = False
        self.bound: Bound | None = None
        self.lookup: dict[str, str] = {}
        self.counted: int | None = None
        self.prefetched: tuple[int, int, list[Entry]] | None = None  # start, stop, entries

    @property
    def model(self) -> type[Post]:
        """The ranked model (DRF's cursor checks a cursor's position against its field)."""
        return self.ranking.model

    def _clone(self, **changes: Any) -> Feed:
        feed = Feed.__new__(Feed)
        feed.__dict__.update({**self.__dict__, **changes})
        return feed

    def order_by(self, *fields: str) -> Feed:
        flipped = tuple(f[1:] if f.startswith("-") else f"-{f}" for f in self.ordering)
        if tuple(fields) not in (self.ordering, flipped):
            return self._clone(source=None, ranking=self.ranking.order_by(*fields))
        return self._clone(reverse=tuple(fields) == flipped)

    def filter(self, **lookup: str) -> Feed:
        ((name, position),) = lookup.items()
        field, _, op = name.rpartition("__")
        bound = None
        if self.source is not None and field == self.field and op in ("lt", "gt"):
            bound = self.source.bound(op, position)
        source = self.source if bound is not None else None
        return self._clone(source=source, bound=bound, lookup={**self.lookup, **lookup})

    def _database(self) -> QuerySet:
        ranking = self.ranking
        if self.reverse:
            ranking = ranking.reverse()
        return ranking.filter(**self.lookup).values("pk", self.field)

    def prefetch(self, number: str | int | None, per_page: int) -> None:
        """Read the count and page NUMBER (as a paginator will ask for them) from the listing
        in one round trip."""
        try:
            start = (max(int(number or 1), 1) - 1) * per_page
        except (TypeError, ValueError):
            start = 0
        if self.source is None or self.reverse or self.bound is not None:
            return
        found = redis_call(lambda client: self.source.page(client, start, start + per_page))
        if found is not None:
            self.counted, entries = found
            if entries is not None:
                self.prefetched = (start, start + per_page, entries)

    def count(self) -> int:
        if self.counted is not None:
            return self.counted
        if self.source is not None:
            counted = redis_call(self.source.count)
            if counted is not None:
                return counted
        return count_capped(self.ranking)

    def __getitem__(self, item: slice) -> list[dict[str, Any]]:
        start, stop = item.start or 0, item.stop
        if self.prefetched and self.prefetched[0] == start and stop <= self.prefetched[1]:
            return [self._row(*entry) for entry in self.prefetched[2][: stop - start]]
        if self.source is not None and stop is not None:
            entries = redis_call(
                lambda client: self.source.read(
                    client, start, stop, reverse=self.reverse, bound=self.bound
                )
            )
            if entries is not None:
                return [self._row(member, score) for member, score in entries]
        return list(self._database()[start:stop])

    def _row(self, member: str, score: float) -> dict[str, Any]:
        value: Any = score
        if self.field == "created_at":
            value = _moment(int(score))
        elif self.field == "like_count":
            value = int(score) // TOP_SHIFT
        elif self.field == "trend_rank":
            value = int(-score)
        return {"pk": int(member[-13:]), self.field: value}


def feed_home(*, viewer: User | AnonymousUser, order: FeedOrder) -> Feed:
    """The home feed: the viewer's communities merged, or the whole site when anonymous."""
    if not viewer.is_authenticated:
        return Feed(selectors.post_ranking(order=order), _One(Listing(None, order)))
    joined = list(selectors.community_ids_joined(user=viewer))
    ranking = selectors.post_ranking(order=order, joined_by=viewer)
    return Feed(ranking, _Merged([Listing(pk, order) for pk in joined]))


def feed_community(*, community_id: int, order: FeedOrder) -> Feed:
    listing = Listing(community_id, order)
    return Feed(listing.ranking(), _One(listing))


def feed_api(
    *,
    order: FeedOrder,
    community_id: int | None = None,
    community_slug: str | None = None,
    author_username: str | None = None,
    kind: str | None = None,
) -> Feed:
    """The post list API's feed: the site's or a community's listing (COMMUNITY_ID, looked up
    from COMMUNITY_SLUG by the caller), the database for other filters."""
    if author_username or kind or (community_slug and community_id is None):
        ranking = selectors.post_ranking(
            order=order,
            community_slug=community_slug,
            author_username=author_username,
            kind=kind,
        )
        return Feed(ranking)
    listing = Listing(community_id, order)
    return Feed(listing.ranking(), _One(listing))
