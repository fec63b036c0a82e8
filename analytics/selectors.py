"""Reads behind the analytics API and the admin dashboard.

Everything here reads the metric tables the engagement job maintains
(`analytics_post_engagement`, `analytics_community_engagement`), never the event stream or
the domain tables' history. Each query picks the coarsest grain that answers it: day rows for
weeks and months, hour rows for a day, stream-window rows (1 minute by default) only for
ranges of an hour or two. The tables' keys `(entity, grain, window_start)` and indexes
`(grain, window_start)` turn every query into one index range scan, so the cost follows the
range asked for, not the months of history behind it.

Trend predictions are read from `ModelRun`, `PredictionRun` and `TrendPrediction`, and set
beside the engagement that actually followed, from the same metric tables.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from kafka.errors import KafkaError

from analytics.models import (
    CommunityEngagement,
    EngagementActorWindow,
    EngagementDeadLetter,
    EngagementGrain,
    ModelRun,
    PostEngagement,
    PredictionRun,
    SparkBatch,
    TrendPrediction,
)
from analytics.publisher import outbox_lag
from communities.models import Community
from posts.models import Post

SPARK_METRICS_QUERY = "engagement"

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


class Health(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


HEALTH_ORDER = (Health.GREEN, Health.AMBER, Health.RED)


def _worst(states: Iterable[Health]) -> Health:
    return max(states, key=HEALTH_ORDER.index, default=Health.GREEN)


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
    if entity == "post":
        _posts_describe(entries)
    else:
        _communities_describe(entries)
    return TopList(
        entity=entity, metric=metric, period=period, since=since, until=now, results=entries
    )


def post_label(post: Post) -> str:
    content = post.content
    text = Truncator(" ".join(content.text.split())).chars(80)
    if content.kind == Post.Kind.QUOTE:
        return f"“{text}”" if text else f"Quote #{post.pk}"
    return text or f"{content.kind.capitalize()} #{post.pk}"


def _posts_describe(entries: list[TopEntry]) -> None:
    posts = Post.objects.select_related("community", "author", "shared_from").in_bulk(
        [entry.id for entry in entries]
    )
    for entry in entries:
        post = posts.get(entry.id)
        if post is None:
            entry.label, entry.deleted = f"Post #{entry.id} (gone)", True
            continue
        entry.label = post_label(post)
        entry.community = post.community.slug
        entry.deleted = post.is_deleted
        entry.url = None if post.is_deleted else post.get_absolute_url()
        entry.admin_url = reverse("admin:posts_post_change", args=[post.pk])


def _communities_describe(entries: list[TopEntry]) -> None:
    communities = Community.objects.in_bulk([entry.id for entry in entries])
    for entry in entries:
        community = communities.get(entry.id)
        if community is None:
            entry.label, entry.deleted = f"Community #{entry.id} (gone)", True
            continue
        entry.label = community.name
        entry.community = community.slug
        entry.url = community.get_absolute_url()


# --- summary (KPIs and pipeline health) ---------------------------------------------------


@dataclass
class MinuteCount:
    start: datetime
    events: int


@dataclass
class ComponentHealth:
    state: Health
    detail: str


@dataclass
class OutboxStatus:
    pending: int
    failed: int
    oldest_pending_at: datetime | None
    oldest_age_seconds: float
    health: ComponentHealth


@dataclass
class SparkStatus:
    running: bool
    pid: int | None
    last_batch_id: int | None
    last_batch_at: datetime | None
    last_batch_age_seconds: float | None
    watermark: datetime | None
    lag_events: int | None
    lag_error: str
    health: ComponentHealth


@dataclass
class DeadLetterStatus:
    total: int
    last_24h: int
    latest_at: datetime | None
    health: ComponentHealth


@dataclass
class Summary:
    generated_at: datetime
    events_per_minute: float
    events_last_5_minutes: list[MinuteCount]
    active_users_24h: int
    today: dict[str, int]
    outbox: OutboxStatus
    spark: SparkStatus
    dead_letters: DeadLetterStatus
    health: Health
    model_run: dict[str, Any] | None


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
    """Exact distinct users with a counted event since `since`, from the per-actor window
    rows. The day rollups name the communities active in the range, which turns the count
    into one range scan per community on (community_id, window_start, actor_id)."""
    communities = list(
        CommunityEngagement.objects.filter(
            grain=EngagementGrain.DAY, window_start__gte=floor_to(since, "day")
        )
        .values_list("community_id", flat=True)
        .distinct()
    )
    if not communities:
        return 0
    return EngagementActorWindow.objects.filter(
        community_id__in=communities, window_start__gte=since
    ).aggregate(users=Count("actor_id", distinct=True))["users"]


def today_counts(*, now: datetime) -> dict[str, int]:
    """Today's (UTC) totals from the day rollups of every community."""
    names = ("posts_created", "views", "likes", "comments", "shares", "members_joined")
    sums = CommunityEngagement.objects.filter(
        grain=EngagementGrain.DAY, window_start=floor_to(now, "day")
    ).aggregate(**{name: Sum(name) for name in names})
    counts = {name: int(value or 0) for name, value in sums.items()}
    counts["posts"] = counts.pop("posts_created")
    return counts


def outbox_status() -> OutboxStatus:
    lag = outbox_lag()
    age = lag.oldest_age_seconds
    if lag.failed or age >= settings.ANALYTICS_OUTBOX_RED_SECONDS:
        state = Health.RED
    elif age >= settings.ANALYTICS_OUTBOX_AMBER_SECONDS:
        state = Health.AMBER
    else:
        state = Health.GREEN
    return OutboxStatus(
        pending=lag.pending,
        failed=lag.failed,
        oldest_pending_at=lag.oldest_pending_at,
        oldest_age_seconds=round(age, 1),
        health=ComponentHealth(state=state, detail=lag.describe()),
    )


def spark_lag_cached(topic: str, end_offsets: dict[str, int]) -> int:
    """Messages on the topic past the batch's end offsets. Cached for a few seconds per
    (topic, offsets), so dashboards refreshing every few seconds do not each open a Kafka
    connection (a new batch changes the offsets and so the key). A failure is cached too:
    while Kafka is down, only one request per interval waits for the connection timeout."""
    from streamer.health import topic_lag

    offsets = json.dumps([topic, end_offsets], sort_keys=True).encode()
    key = "analytics:spark-lag:" + hashlib.sha256(offsets).hexdigest()
    cached = cache.get(key)
    if cached is None:
        try:
            cached = {"lag": topic_lag(topic, end_offsets)}
        except KafkaError as exc:
            cached = {"error": (str(exc).strip().splitlines() or [type(exc).__name__])[0]}
        cache.set(key, cached, settings.ANALYTICS_SPARK_LAG_CACHE_SECONDS)
    if "error" in cached:
        raise KafkaError(cached["error"])
    return cached["lag"]


def spark_status(*, now: datetime) -> SparkStatus:
    """The engagement job: its last applied batch (from the ledger the job writes with the
    metrics) and how many messages the topic holds beyond it."""
    from streamer.health import spark_job_pid

    pid = spark_job_pid(Path(settings.VAR_DIR) / "run" / f"spark-{SPARK_METRICS_QUERY}.pid")
    latest = (
        SparkBatch.objects.filter(query_name=SPARK_METRICS_QUERY)
        .order_by("-applied_at", "-id")
        .first()
    )
    if latest is None:
        return SparkStatus(
            running=pid is not None,
            pid=pid,
            last_batch_id=None,
            last_batch_at=None,
            last_batch_age_seconds=None,
            watermark=None,
            lag_events=None,
            lag_error="",
            health=ComponentHealth(Health.AMBER, "no batch applied yet"),
        )
    lag: int | None
    try:
        lag, lag_error = spark_lag_cached(latest.topic, latest.end_offsets), ""
    except KafkaError as exc:
        lag, lag_error = None, (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    age = max(0.0, (now - latest.applied_at).total_seconds())
    state, detail = _spark_health(lag=lag, age=age, lag_error=lag_error)
    return SparkStatus(
        running=pid is not None,
        pid=pid,
        last_batch_id=latest.batch_id,
        last_batch_at=latest.applied_at,
        last_batch_age_seconds=round(age, 1),
        watermark=latest.watermark,
        lag_events=lag,
        lag_error=lag_error,
        health=ComponentHealth(state, detail),
    )


def _spark_health(*, lag: int | None, age: float, lag_error: str) -> tuple[Health, str]:
    """A job with nothing to read applies no batches, so an old last batch only matters
    when the topic holds messages beyond it."""
    if lag is None:
        return Health.AMBER, f"lag unknown ({lag_error})"
    behind = f"{lag} events behind, last batch {age:.0f} s ago"
    if lag >= settings.ANALYTICS_SPARK_LAG_RED_EVENTS:
        return Health.RED, behind
    if lag and age >= settings.ANALYTICS_SPARK_STALE_RED_SECONDS:
        return Health.RED, behind + " (stalled)"
    if lag >= settings.ANALYTICS_SPARK_LAG_AMBER_EVENTS:
        return Health.AMBER, behind
    if lag and age >= settings.ANALYTICS_SPARK_STALE_AMBER_SECONDS:
        return Health.AMBER, behind + " (slow)"
    return Health.GREEN, behind if lag else f"caught up, last batch {age:.0f} s ago"


def dead_letter_status(*, now: datetime) -> DeadLetterStatus:
    recent = EngagementDeadLetter.objects.filter(received_at__gte=now - timedelta(hours=24))
    last_24h = recent.count()
    latest_at = (
        EngagementDeadLetter.objects.order_by("-received_at")
        .values_list("received_at", flat=True)
        .first()
    )
    if last_24h >= settings.ANALYTICS_DEAD_LETTERS_RED:
        state = Health.RED
    elif last_24h >= settings.ANALYTICS_DEAD_LETTERS_AMBER:
        state = Health.AMBER
    else:
        state = Health.GREEN
    return DeadLetterStatus(
        total=EngagementDeadLetter.objects.count(),
        last_24h=last_24h,
        latest_at=latest_at,
        health=ComponentHealth(state, f"{last_24h} in the last 24 h"),
    )


def analytics_summary(*, now: datetime | None = None) -> Summary:
    now = now or timezone.now()
    minutes = events_per_minute(now=now)
    outbox = outbox_status()
    spark = spark_status(now=now)
    dead_letters = dead_letter_status(now=now)
    return Summary(
        generated_at=now,
        events_per_minute=round(sum(m.events for m in minutes) / len(minutes), 1),
        events_last_5_minutes=minutes,
        active_users_24h=active_users_count(since=now - timedelta(hours=24)),
        today=today_counts(now=now),
        outbox=outbox,
        spark=spark,
        dead_letters=dead_letters,
        health=_worst(c.health.state for c in (outbox, spark, dead_letters)),
        model_run=model_run_latest(),
    )


# --- trend predictions (when the trend models exist) --------------------------------------

MODEL_RUN_FIELDS = (
    "id",
    "version",
    "status",
    "algorithm",
    "started_at",
    "trained_at",
    "duration_seconds",
    "horizon_minutes",
    "training_rows",
    "holdout_rows",
    "promoted",
    "promotion_note",
    "metrics",
    "error",
)
PREDICTION_BATCHES = ("latest", "evaluated")


def model_run_describe(run: ModelRun) -> dict[str, Any]:
    """A model run as plain data. `metrics` maps "model", each baseline ("persistence",
    "szabo_huberman") and each candidate to {"mae_log1p", "spearman", "precision_at_10"}."""
    described = {name: getattr(run, name) for name in MODEL_RUN_FIELDS}
    metrics = run.metrics if isinstance(run.metrics, dict) else {}
    described["metrics"] = {k: v for k, v in metrics.items() if isinstance(v, dict)}
    return described


def model_run_latest() -> dict[str, Any] | None:
    run = ModelRun.objects.order_by("-pk").first()
    return None if run is None else model_run_describe(run)


def model_run_list(*, limit: int = 20) -> list[dict[str, Any]]:
    """The newest model runs first, whatever their status (failed and not promoted ones
    included: the history is the point)."""
    return [model_run_describe(run) for run in ModelRun.objects.order_by("-pk")[:limit]]


@dataclass
class PredictionEntry:
    post_id: int
    label: str
    community: str | None
    url: str | None
    deleted: bool
    rank: int | None
    trend_score: float | None
    predicted: float
    actual: float


@dataclass
class PredictionList:
    batch: str = "latest"
    model_run: dict[str, Any] | None = None
    as_of: datetime | None = None
    horizon_end: datetime | None = None
    complete: bool = False
    results: list[PredictionEntry] = field(default_factory=list)


def trend_predictions_with_actuals(
    *, limit: int = 10, batch: str = "latest", now: datetime | None = None
) -> PredictionList:
    """A batch of post predictions, best ranked first, each beside the engagement score the
    post actually got over the predicted horizon [as_of, as_of + horizon): so far for the
    `latest` batch, final for the `evaluated` one (the newest whose horizon has passed).
    Actuals are sums of the stream-window rows, one indexed range per post."""
    if batch not in PREDICTION_BATCHES:
        raise ValidationError({"batch": f"Must be one of {', '.join(PREDICTION_BATCHES)}."})
    now = now or timezone.now()
    runs = (
        PredictionRun.objects.filter(
            status=PredictionRun.Status.SUCCEEDED, model_run__isnull=False, as_of__isnull=False
        )
        .select_related("model_run")
        .order_by("-pk")
    )
    run = None
    # Runs come every few minutes and horizons are about an hour: the evaluated batch is
    # among the newest few dozen.
    for candidate in runs[:1] if batch == "latest" else runs[:100]:
        end = candidate.as_of + timedelta(minutes=candidate.model_run.horizon_minutes)
        if batch == "latest" or end <= now:
            run = candidate
            break
    if run is None:
        return PredictionList(batch=batch)
    horizon_end = run.as_of + timedelta(minutes=run.model_run.horizon_minutes)
    predictions = list(
        TrendPrediction.objects.filter(run=run).select_related("post").order_by("rank")[:limit]
    )
    post_ids = [p.post_id for p in predictions]
    actual = dict(
        PostEngagement.objects.filter(
            post_id__in=post_ids,
            grain=EngagementGrain.WINDOW,
            window_start__gte=run.as_of,
            window_start__lt=horizon_end,
        )
        .values("post_id")
        .annotate(score=Sum("engagement_score"))
        .order_by()
        .values_list("post_id", "score")
    )
    results = []
    posts = Post.objects.select_related("community", "shared_from").in_bulk(post_ids)
    for prediction in predictions:
        post = posts.get(prediction.post_id)
        results.append(
            PredictionEntry(
                post_id=prediction.post_id,
                label=post_label(post) if post else f"Post #{prediction.post_id} (gone)",
                community=post.community.slug if post else None,
                url=post.get_absolute_url() if post and not post.is_deleted else None,
                deleted=post is None or post.is_deleted,
                rank=prediction.rank,
                trend_score=prediction.trend_score,
                predicted=prediction.predicted_engagement,
                actual=float(actual.get(prediction.post_id) or 0),
            )
        )
    return PredictionList(
        batch=batch,
        model_run=model_run_describe(run.model_run),
        as_of=run.as_of,
        horizon_end=horizon_end,
        complete=horizon_end <= now,
        results=results,
    )


def dashboard_communities(*, limit: int = 200) -> list[Community]:
    """The communities offered in the dashboard's chart picker: the largest first."""
    return list(
        Community.objects.only("id", "slug", "name").order_by("-member_count", "name")[:limit]
    )
