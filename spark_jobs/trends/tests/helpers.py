"""Small static inputs for the trend feature builder and model tests."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

T0 = datetime(2026, 11, 30, 12, 0)
KINDS = ("quote", "image", "video")

TIMES_SCHEMA = T.StructType([T.StructField("as_of", T.TimestampType())])
POSTS_SCHEMA = T.StructType(
    [
        T.StructField("post_id", T.LongType()),
        T.StructField("community_id", T.LongType()),
        T.StructField("author_id", T.LongType()),
        T.StructField("kind", T.StringType()),
        T.StructField("created_at", T.TimestampType()),
        T.StructField("deleted_at", T.TimestampType()),
    ]
)
POST_ACTIVITY_SCHEMA = T.StructType(
    [
        T.StructField("post_id", T.LongType()),
        T.StructField("window_start", T.TimestampType()),
        T.StructField("window_end", T.TimestampType()),
        T.StructField("engagement", T.DoubleType()),
        T.StructField("actors", T.DoubleType()),
        T.StructField("actions", T.DoubleType()),
    ]
)
COMMUNITY_ACTIVITY_SCHEMA = T.StructType(
    [
        T.StructField("community_id", T.LongType()),
        T.StructField("window_start", T.TimestampType()),
        T.StructField("window_end", T.TimestampType()),
        T.StructField("engagement", T.DoubleType()),
        T.StructField("members_joined", T.DoubleType()),
        T.StructField("members_left", T.DoubleType()),
    ]
)


def minutes(n: float) -> datetime:
    """T0 + n minutes, naive UTC (how Spark hands timestamps back in a UTC session)."""
    return T0 + timedelta(minutes=n)


def minute_row(
    post_id: int,
    at_minute: float,
    engagement: float,
    actors: float = 1.0,
    actions: float | None = None,
) -> tuple:
    """One post's one-minute activity row; `actions` defaults to the engagement."""
    actions = engagement if actions is None else actions
    return (post_id, minutes(at_minute), minutes(at_minute + 1), engagement, actors, actions)


@dataclass
class History:
    """Inputs of `features.post_features`, built up as plain tuples."""

    posts: list[tuple] = field(default_factory=list)
    post_activity: list[tuple] = field(default_factory=list)
    community_activity: list[tuple] = field(default_factory=list)

    def frames(self, spark: SparkSession) -> dict[str, DataFrame]:
        return {
            "posts": spark.createDataFrame(self.posts, POSTS_SCHEMA),
            "post_activity": spark.createDataFrame(self.post_activity, POST_ACTIVITY_SCHEMA),
            "community_activity": spark.createDataFrame(
                self.community_activity, COMMUNITY_ACTIVITY_SCHEMA
            ),
        }


def times_frame(spark: SparkSession, moments: list[datetime]) -> DataFrame:
    return spark.createDataFrame([(moment,) for moment in moments], TIMES_SCHEMA)


def synthetic_history(
    *, posts: int = 24, hours: float = 10.0, viral: dict[int, float] | None = None, seed: int = 3
) -> History:
    """`hours` of minute rows ending at T0 for `posts` ordinary posts in three communities
    (heavy-tailed appeal, attention halving every two hours), plus viral posts: post id ->
    the minute (relative to T0) its burst starts, 20 minutes after it was posted. A burst
    climbs within minutes to about 10 actions a minute, far above any ordinary post, then
    halves every 90 minutes."""
    viral = {1: -30.0, 2: -400.0} if viral is None else viral
    rng = random.Random(seed)
    start = -hours * 60
    history = History()
    for post_id in range(1, posts + 1):
        created = start + rng.uniform(0, hours * 60 * 0.8)
        if post_id in viral:
            created = viral[post_id] - 20
        history.posts.append(
            (post_id, 1 + post_id % 3, 10 + post_id % 7, KINDS[post_id % 3], minutes(created), None)
        )
        appeal = rng.paretovariate(1.8) * 0.1
        for minute in range(math.ceil(created), 0):
            rate = appeal * 2.0 ** (-(minute - created) / 120)
            if post_id in viral and minute >= viral[post_id]:
                burst_age = minute - viral[post_id]
                rate = 10.0 * min(1.0, 0.2 * (burst_age + 1)) * 2.0 ** (-burst_age / 90)
            events = _poisson(rng, rate)
            if events:
                actors = float(min(events, 1 + events // 2))
                history.post_activity.append(minute_row(post_id, minute, float(events), actors))
    for community in (1, 2, 3):
        history.community_activity.append(
            (community, minutes(start - 600), minutes(start - 540), 0.0, 5.0 * community, 0.0)
        )
    return history


def _poisson(rng: random.Random, rate: float) -> int:
    count, threshold, product = 0, math.exp(-rate), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC)
