"""Pure DataFrame -> DataFrame steps of the trend model: features of a post at a prediction
time `as_of`, and the target (its engagement in the `horizon` after `as_of`).

Training and prediction call the same `post_features`; only training calls `post_targets`.

Leakage rule: a feature at `as_of` may only use activity rows that ended at or before
`as_of` (`window_end <= as_of`), posts created at or before it, and nothing else that
changes afterwards. Activity rows are buckets [window_start, window_end) of any size (one
minute from the stream, or a longer summary of older history); a row counts in an interval
only when it lies wholly inside it, so a row straddling `as_of` is in neither the features
nor the target. Callers pass activity rows that do not overlap each other, with one-minute
rows for at least the last LOOKBACK_MINUTES before every `as_of`.

Inputs (column names are the contract):
- times: `as_of` (timestamp), the prediction times.
- posts: `post_id`, `community_id`, `author_id`, `kind`, `created_at`, `deleted_at`
  (every post that may be a candidate or count in its author's history).
- post_activity: `post_id`, `window_start`, `window_end`, `engagement`, `actors`,
  `actions` (views, likes, unlikes, comments and shares: the events behind the score).
- community_activity: `community_id`, `window_start`, `window_end`, `engagement`,
  `members_joined`, `members_left`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

KINDS = ("quote", "image", "video")

# Windows (minutes) of recent activity, and the e-folding times (minutes) of the
# decay-weighted counts. A viral post is a self-exciting process: each action makes the
# next more likely for a few minutes, so the newest minutes, weighted most, carry the burst.
WINDOWS = (5, 15, 60, 180)
DECAYS = (10, 60)
LOOKBACK_MINUTES = max(WINDOWS)

# What the model sees, in VectorAssembler order. Counts enter on a log1p scale; growth
# compares the per-minute rate of the newest window with the one before it.
FEATURE_COLUMNS = (
    # velocity and acceleration
    "log_engagement_5m",
    "log_engagement_15m",
    "log_engagement_60m",
    "log_engagement_180m",
    "log_actions_5m",
    "log_actions_15m",
    "log_actions_60m",
    "log_decayed_actions_10m",
    "log_decayed_actions_60m",
    "growth_5m_15m",
    "growth_15m_60m",
    "growth_60m_180m",
    "log_minutes_since_last",
    "log_actors_60m",
    "actor_share_60m",
    # the post's life so far
    "log_engagement_total",
    "log_age_minutes",
    "log_rate_lifetime",
    "kind_image",
    "kind_video",
    # its context: community, site, author, time of day
    "log_community_engagement_60m",
    "community_share_60m",
    "log_community_members",
    "log_site_engagement_60m",
    "log_author_prior_posts",
    "log_author_mean_engagement",
    "hour_sin",
    "hour_cos",
)
# Raw values kept next to the features for baselines, ranking and reports.
RAW_COLUMNS = (
    "engagement_5m",
    "engagement_15m",
    "engagement_60m",
    "engagement_total",
    "age_minutes",
)
KEY_COLUMNS = ("post_id", "as_of", "community_id", "author_id", "kind")
TARGET_COLUMN = "engagement_next"
LABEL_COLUMN = "label"


@dataclass(frozen=True)
class FeatureConfig:
    """`max_age_hours`: posts older than this at `as_of` are not candidates (old posts
    rarely take off, and leaving them out keeps the candidate set small)."""

    horizon_minutes: int = 60
    max_age_hours: float = 48.0


DEFAULT_FEATURES = FeatureConfig()


def _minutes(n: float) -> Column:
    return F.expr(f"INTERVAL {int(n * 60)} SECONDS")


def _minutes_between(later: Column, earlier: Column) -> Column:
    return (later.cast("double") - earlier.cast("double")) / 60.0


def times_literal(times: DataFrame) -> Column:
    """The prediction times as a sorted array literal. Activity rows find the times they
    count for with array filters, which keeps the plan free of range joins; the times are
    few (one per step of the training history, or one when predicting)."""
    micros = sorted({row[0] for row in times.select(F.unix_micros("as_of")).collect()})
    return F.array(*(F.timestamp_micros(F.lit(value)) for value in micros))


def _times_where(moments: Column, condition: Callable[[Column], Column]) -> Column:
    return F.filter(moments, condition)


def _bucket(moments: Column, ended: Column) -> Column:
    """The first prediction time at or after `ended`: from then on the row is in the past."""
    return F.array_min(_times_where(moments, lambda t: t >= ended))


def _running(
    contributions: DataFrame,
    grid: DataFrame,
    key: str,
    columns: tuple[str, ...],
    *,
    how: Callable[[str], Column] = F.sum,
) -> DataFrame:
    """Running aggregates (sums by default) of `columns` per `key` up to each `as_of` of
    `grid`.

    `contributions` holds (key, as_of, columns) where as_of is the bucket in which the
    amounts became known; the grid rows add nulls so every (key, as_of) wanted exists."""
    empty = grid.select(key, "as_of", *(F.lit(None).cast("double").alias(c) for c in columns))
    merged = (
        contributions.select(key, "as_of", *(F.col(c).cast("double") for c in columns))
        .unionByName(empty)
        .groupBy(key, "as_of")
        .agg(*(how(c).alias(c) for c in columns))
    )
    upto = Window.partitionBy(key).orderBy("as_of").rowsBetween(Window.unboundedPreceding, 0)
    totals = merged.select(key, "as_of", *(how(c).over(upto).alias(c) for c in columns))
    return grid.select(key, "as_of").distinct().join(totals, [key, "as_of"], "left")


def candidates(moments: Column, posts: DataFrame, config: FeatureConfig) -> DataFrame:
    """(post, as_of) pairs to score: posts created at or before `as_of`, younger than
    `max_age_hours` and not deleted by then."""
    alive = _times_where(
        moments,
        lambda t: (F.col("created_at") <= t)
        & (F.col("created_at") > t - _minutes(config.max_age_hours * 60))
        & (F.col("deleted_at").isNull() | (F.col("deleted_at") > t)),
    )
    return posts.select(
        "post_id",
        F.explode(alive).alias("as_of"),
        "community_id",
        "author_id",
        "kind",
        "created_at",
    )


def _recent_sums(
    activity: DataFrame,
    moments: Column,
    key: str,
    sums: dict[str, tuple[str, int]],
    decayed: dict[str, tuple[str, int]] | None = None,
) -> DataFrame:
    """Per (key, as_of): sums of activity rows lying wholly in [as_of - n min, as_of).
    `sums` maps an output column to (input column, n minutes); `decayed` maps one to
    (input column, tau minutes): the sum over the longest window of each row weighted by
    exp(-(as_of - window_end) / tau)."""
    decayed = decayed or {}
    longest = max(minutes for _, minutes in sums.values())
    sources = {source for source, _ in (*sums.values(), *decayed.values())}
    exploded = activity.select(
        key,
        "window_start",
        "window_end",
        *sorted(sources),
        F.explode(
            _times_where(
                moments,
                lambda t: (t >= F.col("window_end"))
                & (F.col("window_start") >= t - _minutes(longest)),
            )
        ).alias("as_of"),
    )
    plain = [
        F.sum(
            F.when(
                F.col("window_start") >= F.col("as_of") - _minutes(minutes), F.col(source)
            ).otherwise(0.0)
        )
        .cast("double")
        .alias(name)
        for name, (source, minutes) in sums.items()
    ]
    ago = _minutes_between(F.col("as_of"), F.col("window_end"))
    weighted = [
        F.sum(F.col(source) * F.exp(-ago / tau)).cast("double").alias(name)
        for name, (source, tau) in decayed.items()
    ]
    return exploded.groupBy(key, "as_of").agg(*plain, *weighted)


def _with_bucket(activity: DataFrame, moments: Column, ended: str) -> DataFrame:
    return activity.withColumn("as_of", _bucket(moments, F.col(ended))).where(
        F.col("as_of").isNotNull()
    )


def _log1p(column: str | Column) -> Column:
    value = F.col(column) if isinstance(column, str) else column
    return F.log1p(F.greatest(value, F.lit(0.0)))


def _growth(newer: Column, newer_minutes: int, older: Column, older_minutes: int) -> Column:
    """log1p of the newest window's count minus log1p of the earlier part's count scaled
    to the same length: > 0 when the post speeds up."""
    before = (older - newer) * (newer_minutes / (older_minutes - newer_minutes))
    return _log1p(newer) - _log1p(before)


def post_features(
    *,
    times: DataFrame,
    posts: DataFrame,
    post_activity: DataFrame,
    community_activity: DataFrame,
    config: FeatureConfig = DEFAULT_FEATURES,
) -> DataFrame:
    """One row per candidate (post, as_of) with KEY_COLUMNS, RAW_COLUMNS and FEATURE_COLUMNS.
    Uses nothing that happened after `as_of` (see the module docstring)."""
    moments = times_literal(times)
    grid = candidates(moments, posts, config)

    recent = _recent_sums(
        post_activity,
        moments,
        "post_id",
        {
            **{f"engagement_{n}m": ("engagement", n) for n in WINDOWS},
            **{f"actions_{n}m": ("actions", n) for n in (5, 15, 60)},
            "actors_60m": ("actors", 60),
        },
        {f"decayed_actions_{tau}m": ("actions", tau) for tau in DECAYS},
    )
    ended = _with_bucket(post_activity, moments, "window_end").groupBy("post_id", "as_of")
    post_totals = _running(
        ended.agg(F.sum("engagement").alias("engagement_total")),
        grid,
        "post_id",
        ("engagement_total",),
    )
    post_last = _running(
        ended.agg(F.max(F.unix_seconds("window_end")).alias("last_seconds")),
        grid,
        "post_id",
        ("last_seconds",),
        how=F.max,
    )

    # The author's history: engagement their posts earned up to as_of, and how many posts
    # they had made by then. The post itself is subtracted below.
    authors = posts.select("post_id", "author_id", "created_at")
    author_grid = grid.select("author_id", "as_of").distinct()
    author_engagement = (
        _with_bucket(post_activity.join(authors, "post_id"), moments, "window_end")
        .groupBy("author_id", "as_of")
        .agg(F.sum("engagement").alias("author_engagement"))
    )
    author_posts = (
        _with_bucket(authors.withColumn("one", F.lit(1.0)), moments, "created_at")
        .groupBy("author_id", "as_of")
        .agg(F.sum("one").alias("author_posts"))
    )
    author_totals = _running(
        author_engagement.join(author_posts, ["author_id", "as_of"], "full").fillna(0.0),
        author_grid,
        "author_id",
        ("author_engagement", "author_posts"),
    )

    community_grid = grid.select("community_id", "as_of").distinct()
    community_recent = _recent_sums(
        community_activity,
        moments,
        "community_id",
        {"community_engagement_60m": ("engagement", 60)},
    )
    site_recent = community_recent.groupBy("as_of").agg(
        F.sum("community_engagement_60m").alias("site_engagement_60m")
    )
    community_members = _running(
        _with_bucket(community_activity, moments, "window_end")
        .groupBy("community_id", "as_of")
        .agg(F.sum(F.col("members_joined") - F.col("members_left")).alias("community_members")),
        community_grid,
        "community_id",
        ("community_members",),
    )

    joined = (
        grid.join(recent, ["post_id", "as_of"], "left")
        .join(post_totals, ["post_id", "as_of"], "left")
        .join(post_last, ["post_id", "as_of"], "left")
        .join(author_totals, ["author_id", "as_of"], "left")
        .join(community_recent, ["community_id", "as_of"], "left")
        .join(community_members, ["community_id", "as_of"], "left")
        .join(site_recent, ["as_of"], "left")
        .fillna(0.0)
    )
    engagement = {n: F.col(f"engagement_{n}m") for n in WINDOWS}
    actions = {n: F.col(f"actions_{n}m") for n in (5, 15, 60)}
    prior_posts = F.greatest(F.col("author_posts") - 1.0, F.lit(0.0))
    prior_engagement = F.greatest(
        F.col("author_engagement") - F.col("engagement_total"), F.lit(0.0)
    )
    age_minutes = _minutes_between(F.col("as_of"), F.col("created_at"))
    # Since the newest activity row ended; a post without any, since it was created.
    since_last = F.when(
        F.col("last_seconds") > 0,
        (F.unix_seconds("as_of") - F.col("last_seconds")) / 60.0,
    ).otherwise(age_minutes)
    hour = F.hour("as_of") + F.minute("as_of") / 60.0
    return joined.select(
        *KEY_COLUMNS,
        *(engagement[n].alias(f"engagement_{n}m") for n in (5, 15, 60)),
        F.col("engagement_total"),
        age_minutes.alias("age_minutes"),
        *(_log1p(engagement[n]).alias(f"log_engagement_{n}m") for n in WINDOWS),
        *(_log1p(actions[n]).alias(f"log_actions_{n}m") for n in actions),
        *(_log1p(f"decayed_actions_{tau}m").alias(f"log_decayed_actions_{tau}m") for tau in DECAYS),
        _growth(engagement[5], 5, engagement[15], 15).alias("growth_5m_15m"),
        _growth(engagement[15], 15, engagement[60], 60).alias("growth_15m_60m"),
        _growth(engagement[60], 60, engagement[180], 180).alias("growth_60m_180m"),
        _log1p(since_last).alias("log_minutes_since_last"),
        _log1p("actors_60m").alias("log_actors_60m"),
        (F.col("actors_60m") / F.greatest(actions[60], F.lit(1.0))).alias("actor_share_60m"),
        _log1p("engagement_total").alias("log_engagement_total"),
        _log1p(age_minutes).alias("log_age_minutes"),
        _log1p(F.col("engagement_total") * 60.0 / F.greatest(age_minutes, F.lit(1.0))).alias(
            "log_rate_lifetime"
        ),
        (F.col("kind") == "image").cast("double").alias("kind_image"),
        (F.col("kind") == "video").cast("double").alias("kind_video"),
        _log1p("community_engagement_60m").alias("log_community_engagement_60m"),
        (
            F.greatest(engagement[60], F.lit(0.0))
            / F.greatest(F.col("community_engagement_60m"), engagement[60], F.lit(1.0))
        ).alias("community_share_60m"),
        _log1p("community_members").alias("log_community_members"),
        _log1p("site_engagement_60m").alias("log_site_engagement_60m"),
        _log1p(prior_posts).alias("log_author_prior_posts"),
        _log1p(prior_engagement / F.greatest(prior_posts, F.lit(1.0))).alias(
            "log_author_mean_engagement"
        ),
        F.sin(hour * (2 * math.pi / 24)).alias("hour_sin"),
        F.cos(hour * (2 * math.pi / 24)).alias("hour_cos"),
    )


def post_targets(
    *, times: DataFrame, post_activity: DataFrame, config: FeatureConfig = DEFAULT_FEATURES
) -> DataFrame:
    """(post_id, as_of, engagement_next): engagement in rows lying wholly in
    [as_of, as_of + horizon). The only function here that looks past `as_of`; pairs with no
    rows are absent (the caller fills 0)."""
    horizon = config.horizon_minutes
    exploded = post_activity.select(
        "post_id",
        "engagement",
        F.explode(
            _times_where(
                times_literal(times),
                lambda t: (t <= F.col("window_start"))
                & (F.col("window_end") <= t + _minutes(horizon)),
            )
        ).alias("as_of"),
    )
    return exploded.groupBy("post_id", "as_of").agg(
        F.sum("engagement").cast("double").alias(TARGET_COLUMN)
    )


def training_frame(
    *,
    times: DataFrame,
    posts: DataFrame,
    post_activity: DataFrame,
    community_activity: DataFrame,
    config: FeatureConfig = DEFAULT_FEATURES,
) -> DataFrame:
    """Features with the target and the model's label (log1p of the target)."""
    features = post_features(
        times=times,
        posts=posts,
        post_activity=post_activity,
        community_activity=community_activity,
        config=config,
    )
    targets = post_targets(times=times, post_activity=post_activity, config=config)
    return (
        features.join(targets, ["post_id", "as_of"], "left")
        .fillna(0.0, subset=[TARGET_COLUMN])
        .withColumn(LABEL_COLUMN, _log1p(TARGET_COLUMN))
    )
