"""Engagement reads behind the analytics API and the dashboard: time series, top lists and the
KPI figures.

Everything here reads the metric tables the engagement job maintains
(`analytics_post_engagement`, `analytics_community_engagement`), never the event stream or
the domain tables' history. Each query picks the coarsest grain that answers it: day rows for
weeks and months, hour rows for a day, stream-window rows (1 minute by default) only for
ranges of an hour or two. The tables' keys `(entity, grain, window_start)` and indexes
`(grain, window_start)` turn every query into one index range scan, so the cost follows the
range asked for, not the months of history behind it.

Entities come back as ids with their figures; naming them (a post's label, a community's
slug) is the caller's part (`dashboard.describe`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from analytics.models import (
    CommunityEngagement,
    EngagementGrain,
    PostEngagement,
)
from analytics.sketches import sketches_union_estimate

GRANULARITIES = ("minute", "hour", "day")
GRAIN_OF = {
    "minute": EngagementGrain.WINDOW,
    "hour": EngagementGrain.HOUR,
    "day": EngagementGrain.DAY,
}
STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
DEFAULT_SPAN = {
    "minute": timedelta(hours=1),
    "hour": timedelta(hours=48),
    "day": timedelta(days=30),
}
MAX_SPAN = {"minute": timedelta(days=2), "hour": timedelta(days=92), "day": timedelta(days=3 * 366)}
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

POST_FIELDS = (
    "views",
    "likes",
    "unlikes",
    "net_likes",
    "comments",
    "shares",
    "distinct_actors",
    "engagement_score",
)
COMMUNITY_FIELDS = (*POST_FIELDS, "posts_created", "members_joined", "members_left")
EVENT_FIELDS = (
    "views",
    "likes",
    "unlikes",
    "comments",
    "shares",
    "posts_created",
    "members_joined",
    "members_left",
)

TOP_ENTITIES = ("post", "community")
TOP_METRICS = ("engagement_score", "views", "likes", "net_likes", "comments", "shares")
TOP_MAX_LIMIT = 100
TOP_PERIODS: dict[str, tuple[str, str]] = {
    "hour": (EngagementGrain.WINDOW, "the last 60 minutes (stream windows)"),
    "day": (EngagementGrain.HOUR, "the current hour and the 23 before it (hour rollups)"),
    "week": (EngagementGrain.DAY, "today and the 6 days before (day rollups)"),
    "month": (EngagementGrain.DAY, "today and the 29 days before (day rollups)"),
}


def floor_to(moment: datetime, granularity: str) -> datetime:
    moment = moment.astimezone(UTC).replace(second=0, microsecond=0)
    if granularity in ("hour", "day"):
        moment = moment.replace(minute=0)
    if granularity == "day":
        moment = moment.replace(hour=0)
    return moment


# --- time series --------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesRange:
    """A validated [since, until) range at one granularity; `since` is on a bucket boundary."""

    granularity: str
    since: datetime
    until: datetime

    @property
    def grain(self) -> str:
        return GRAIN_OF[self.granularity]

    def bucket_starts(self) -> list[datetime]:
        step, start, starts = STEP[self.granularity], self.since, []
        while start < self.until:
            starts.append(start)
            start += step
        return starts


def series_range_resolve(
    *,
    granularity: str | None,
    since: datetime | None,
    until: datetime | None,
    now: datetime | None = None,
) -> SeriesRange:
    """Fill in the defaults (until now; since one default span earlier) and check the range.
    Raises ValidationError with per-field messages. `minute` reads stream windows and is
    limited to short ranges; longer ranges must use the hour or day rollups."""
    granularity = granularity or "hour"
    if granularity not in GRANULARITIES:
        raise ValidationError({"granularity": f"Must be one of {', '.join(GRANULARITIES)}."})
    errors: dict[str, str] = {}
    for name, value in (("since", since), ("until", until)):
        if value is not None and not EARLIEST <= value <= LATEST:
            errors[name] = f"Must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}."
    if errors:
        raise ValidationError(errors)
    until = until or now or timezone.now()
    since = floor_to(since or (until - DEFAULT_SPAN[granularity]), granularity)
    if since >= until:
        raise ValidationError({"since": "Must be before `until`."})
    if until - since > MAX_SPAN[granularity]:
        raise ValidationError(
            {
                "since": (
                    f"At granularity {granularity} the range may span at most "
                    f"{MAX_SPAN[granularity].days} days; use a coarser granularity."
                )
            }
        )
    return SeriesRange(granularity=granularity, since=since, until=until)


@dataclass
class SeriesPoint:
    start: datetime
    values: dict[str, Any]


@dataclass
class Series:
    range: SeriesRange
    fields: tuple[str, ...]
    points: list[SeriesPoint]
    totals: dict[str, Any] = field(default_factory=dict)

    @property
    def granularity(self) -> str:
        return self.range.granularity

    @property
    def since(self) -> datetime:
        return self.range.since

    @property
    def until(self) -> datetime:
        return self.range.until


def _series_build(
    rows: Iterable[Sequence[Any]], series_range: SeriesRange, fields: tuple[str, ...]
) -> Series:
    """Zero-filled buckets from (window_start, *fields) rows. Stream windows are summed into
    their minute (windows are 1 minute unless the job runs with another --window)."""
    buckets: dict[datetime, dict[str, Any]] = defaultdict(dict)
    for start, *values in rows:
        bucket = buckets[floor_to(_aware(start), series_range.granularity)]
        for name, value in zip(fields, values, strict=True):
            bucket[name] = bucket.get(name, 0) + (value or 0)
    points, totals = [], dict.fromkeys(fields, 0)
    for start in series_range.bucket_starts():
        values = {name: buckets.get(start, {}).get(name, 0) for name in fields}
        for name in fields:
            totals[name] += values[name]
        points.append(SeriesPoint(start=start, values=_plain(values)))
    totals = _plain(totals)
    if "distinct_actors" in totals:
        # Distinct actors do not add up across buckets; the total is left out.
        totals["distinct_actors"] = None
    return Series(range=series_range, fields=fields, points=points, totals=totals)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in values.items()}


def _aware(moment: datetime) -> datetime:
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def engagement_series_for_post(*, post_id: int, series_range: SeriesRange) -> Series:
    rows = PostEngagement.objects.filter(
        post_id=post_id,
        grain=series_range.grain,
        window_start__gte=series_range.since,
        window_start__lt=series_range.until,
    ).values_list("window_start", *POST_FIELDS)
    return _series_build(rows, series_range, POST_FIELDS)


def engagement_series_for_community(*, community_id: int, series_range: SeriesRange) -> Series:
    rows = CommunityEngagement.objects.filter(
        community_id=community_id,
        grain=series_range.grain,
        window_start__gte=series_range.since,
        window_start__lt=series_range.until,
    ).values_list("window_start", *COMMUNITY_FIELDS)
    return _series_build(rows, series_range, COMMUNITY_FIELDS)


SITE_FIELDS = tuple(f for f in COMMUNITY_FIELDS if f != "distinct_actors")


def engagement_series_site(*, series_range: SeriesRange) -> Series:
    """The whole site: community rows summed per bucket. Distinct actors are not summed
    (a user active in two communities would count twice) and come back as null."""
    rows = (
        CommunityEngagement.objects.filter(
            grain=series_range.grain,
            window_start__gte=series_range.since,
            window_start__lt=series_range.until,
        )
        .values("window_start")
        .annotate(**{f"sum_{name}": Sum(name) for name in SITE_FIELDS})
        .order_by()
        .values_list("window_start", *(f"sum_{name}" for name in SITE_FIELDS))
    )
    series = _series_build(rows, series_range, SITE_FIELDS)
    for point in series.points:
        point.values["distinct_actors"] = None
    series.totals["distinct_actors"] = None
    return series


# --- top lists ----------------------------------------------------------------------------


@dataclass
class TopEntry:
    id: int
    label: str
    value: float | int
    metrics: dict[str, Any]
    community: str | None = None
    url: str | None = None
    admin_url: str | None = None
    deleted: bool = False


@dataclass
class TopList:
    entity: str
    metric: str
    period: str
    since: datetime
    until: datetime
    results: list[TopEntry]


def top_period_since(period: str, now: datetime) -> datetime:
    if period == "hour":
        return floor_to(now, "minute") - timedelta(minutes=59)
    if period == "day":
        return floor_to(now, "hour") - timedelta(hours=23)
    days = 6 if period == "week" else 29
    return floor_to(now, "day") - timedelta(days=days)


def top_list(
    *,
    entity: str,
    metric: str = "engagement_score",
    period: str = "day",
    limit: int = 10,
    community_id: int | None = None,
    now: datetime | None = None,
) -> TopList:
    """The posts or communities with the highest sum of `metric` over `period` (see
    TOP_PERIODS for the rows each period reads)."""
    errors = {}
    if entity not in TOP_ENTITIES:
        errors["entity"] = f"Must be one of {', '.join(TOP_ENTITIES)}."
    if metric not in TOP_METRICS:
        errors["metric"] = f"Must be one of {', '.join(TOP_METRICS)}."
    if period not in TOP_PERIODS:
        errors["period"] = f"Must be one of {', '.join(TOP_PERIODS)}."
    if not 1 <= limit <= TOP_MAX_LIMIT:
        errors["limit"] = f"Must be between 1 and {TOP_MAX_LIMIT}."
    if errors:
        raise ValidationError(errors)
    now = now or timezone.now()
    since = top_period_since(period, now)
    model: type[PostEngagement | CommunityEngagement] = (
        PostEngagement if entity == "post" else CommunityEngagement
    )
    key = f"{entity}_id"
    rows: QuerySet = model.objects.filter(grain=TOP_PERIODS[period][0], window_start__gte=since)
    if community_id is not None:
        rows = rows.filter(community_id=community_id)
    ranked = list(
        rows.values(key)
        .annotate(**{f"sum_{name}": Sum(name) for name in TOP_METRICS})
        .order_by(f"-sum_{metric}", key)[:limit]
    )
    entries = []
    for row in ranked:
        metrics = _plain({name: row[f"sum_{name}"] for name in TOP_METRICS})
        entries.append(TopEntry(id=row[key], label="", value=metrics[metric], metrics=metrics))
    return TopList(
        entity=entity, metric=metric, period=period, since=since, until=now, results=entries
    )


# --- KPIs ---------------------------------------------------------------------------------


@dataclass
class MinuteCount:
    start: datetime
    events: int


def events_per_minute(*, now: datetime) -> list[MinuteCount]:
    """Counted events (every count column of the community rows) in each of the last five
    complete minutes, from the stream-window rows."""
    until = floor_to(now, "minute")
    since = until - timedelta(minutes=5)
    rows = (
        CommunityEngagement.objects.filter(
            grain=EngagementGrain.WINDOW, window_start__gte=since, window_start__lt=until
        )
        .values("window_start")
        .annotate(**{f"sum_{name}": Sum(name) for name in EVENT_FIELDS})
        .order_by()
    )
    counts: dict[datetime, int] = defaultdict(int)
    for row in rows:
        minute = floor_to(_aware(row["window_start"]), "minute")
        counts[minute] += sum(int(row[f"sum_{name}"] or 0) for name in EVENT_FIELDS)
    return [
        MinuteCount(start=since + timedelta(minutes=n), events=counts[since + timedelta(minutes=n)])
        for n in range(5)
    ]


def active_users_count(*, since: datetime) -> int:
    """Distinct users with a counted event since `since` (to the minute), counted once across
    communities: the union of every community's actor sketches, minute rows up to the first
    full hour and hour rows after it. Approximately: see analytics.sketches (exact for small
    counts)."""
    start = floor_to(since, "minute")
    first_hour = floor_to(start, "hour")
    if first_hour < start:
        first_hour += timedelta(hours=1)
    rows = CommunityEngagement.objects.filter(
        Q(grain=EngagementGrain.WINDOW, window_start__gte=start, window_start__lt=first_hour)
        | Q(grain=EngagementGrain.HOUR, window_start__gte=first_hour)
    )
    return sketches_union_estimate(rows.values_list("actors_sketch", flat=True))


def today_counts(*, now: datetime) -> dict[str, int]:
    """Today's (UTC) totals from the day rollups of every community."""
    names = ("posts_created", "views", "likes", "comments", "shares", "members_joined")
    sums = CommunityEngagement.objects.filter(
        grain=EngagementGrain.DAY, window_start=floor_to(now, "day")
    ).aggregate(**{name: Sum(name) for name in names})
    counts = {name: int(value or 0) for name, value in sums.items()}
    counts["posts"] = counts.pop("posts_created")
    return counts
