"""The trend jobs' inputs, read from MariaDB with Spark JDBC in the shapes `features.py`
expects.

Post and community activity come from the engagement tables: stream-window rows (one
minute by default) from `history_start` on, where the recent windows of `features.WINDOWS`
and the targets need them, and one summary row per post or community for everything before, summed
from the hour rollups. `history_start` is on an hour boundary, so the hour rows that end by
then cover exactly the window rows left out, and the two never overlap."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.common.db import connect
from spark_jobs.common.jdbc import jdbc_read
from spark_jobs.contract import Queries, Tables
from spark_jobs.trends.features import LOOKBACK_MINUTES

POST_TABLE = Tables.POST_ENGAGEMENT
COMMUNITY_TABLE = Tables.COMMUNITY_ENGAGEMENT
LEDGER_TABLE = Tables.SPARK_BATCH
POSTS_TABLE = Tables.POSTS
METRICS_QUERY = Queries.METRICS
# The events behind a post's engagement score, counted alike (a view as much as a share).
ACTIONS = "(views + likes + unlikes + comments + shares)"


@dataclass(frozen=True)
class Inputs:
    posts: DataFrame
    post_activity: DataFrame
    community_activity: DataFrame


def _sql_time(moment: datetime) -> str:
    return moment.strftime("'%Y-%m-%d %H:%M:%S.%f'")


def history_start(first_as_of: datetime) -> datetime:
    """The hour boundary at or before the earliest moment the longest recent window needs."""
    return (first_as_of - timedelta(minutes=LOOKBACK_MINUTES)).replace(
        minute=0, second=0, microsecond=0
    )


def _jdbc_partitions() -> int:
    return int(os.environ.get("SPARK_JDBC_PARTITIONS", "2"))


def _id_bounds(url: str | None) -> tuple[int, int] | None:
    connection = connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MIN(id), MAX(id) FROM `{POSTS_TABLE}`")  # noqa: S608
            low, high = cursor.fetchone()
    finally:
        connection.close()
    return None if low is None else (int(low), int(high))


def load_inputs(
    spark: SparkSession,
    *,
    first_as_of: datetime,
    last_as_of: datetime,
    horizon_minutes: int,
    url: str | None = None,
) -> Inputs:
    """Everything needed for features at times in [first_as_of, last_as_of] and, when
    `horizon_minutes` > 0, their targets. Times are naive UTC, as Django stores them."""
    start = _sql_time(history_start(first_as_of))
    end = _sql_time(last_as_of + timedelta(minutes=horizon_minutes))
    bounds = _id_bounds(url)
    partitions = _jdbc_partitions()

    # Static SQL over our own tables; the only values are datetimes formatted above.
    posts = jdbc_read(
        spark,
        f"SELECT id AS post_id, community_id, author_id, kind, created_at, deleted_at "  # noqa: S608
        f"FROM `{POSTS_TABLE}` WHERE created_at < {end}",
        url=url,
        partition_column="post_id",
        bounds=bounds,
        partitions=partitions,
    )
    post_windows = jdbc_read(
        spark,
        f"SELECT post_id, window_start, window_end, engagement_score AS engagement, "  # noqa: S608
        f"distinct_actors AS actors, {ACTIONS} AS actions FROM `{POST_TABLE}` "
        f"WHERE grain = 'window' "
        f"AND window_end > {start} AND window_start < {end}",
        url=url,
        partition_column="post_id",
        bounds=bounds,
        partitions=partitions,
    )
    post_before = jdbc_read(
        spark,
        f"SELECT post_id, MIN(window_start) AS window_start, MAX(window_end) AS window_end, "  # noqa: S608
        f"SUM(engagement_score) AS engagement, SUM(distinct_actors) AS actors, "
        f"SUM({ACTIONS}) AS actions "
        f"FROM `{POST_TABLE}` WHERE grain = 'hour' AND window_end <= {start} GROUP BY post_id",
        url=url,
    )
    community_columns = "engagement_score AS engagement, members_joined, members_left"
    community_windows = jdbc_read(
        spark,
        f"SELECT community_id, window_start, window_end, {community_columns} "  # noqa: S608
        f"FROM `{COMMUNITY_TABLE}` WHERE grain = 'window' "
        f"AND window_end > {start} AND window_start < {end}",
        url=url,
    )
    community_before = jdbc_read(
        spark,
        f"SELECT community_id, MIN(window_start) AS window_start, "  # noqa: S608
        f"MAX(window_end) AS window_end, SUM(engagement_score) AS engagement, "
        f"SUM(members_joined) AS members_joined, SUM(members_left) AS members_left "
        f"FROM `{COMMUNITY_TABLE}` WHERE grain = 'hour' AND window_end <= {start} "
        f"GROUP BY community_id",
        url=url,
    )
    return Inputs(
        posts=posts.select(
            F.col("post_id").cast("long"),
            F.col("community_id").cast("long"),
            F.col("author_id").cast("long"),
            "kind",
            "created_at",
            "deleted_at",
        ),
        post_activity=_activity(
            post_windows.unionByName(post_before), "post_id", ("actors", "actions")
        ),
        community_activity=_activity(
            community_windows.unionByName(community_before),
            "community_id",
            ("members_joined", "members_left"),
        ),
    )


def _activity(frame: DataFrame, key: str, extra: tuple[str, ...]) -> DataFrame:
    return frame.select(
        F.col(key).cast("long"),
        "window_start",
        "window_end",
        F.col("engagement").cast("double"),
        *(F.col(column).cast("double") for column in extra),
    )


def data_until(url: str | None = None) -> datetime | None:
    """The time up to which the engagement tables are final: the streaming job's newest
    watermark (no later event is counted), else the newest window end (tables filled some
    other way, as in tests)."""
    connection = connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT MAX(watermark) FROM `{LEDGER_TABLE}` WHERE query_name = %s",  # noqa: S608
                [METRICS_QUERY],
            )
            (watermark,) = cursor.fetchone()
            if watermark is not None:
                return watermark
            cursor.execute(
                f"SELECT MAX(window_end) FROM `{POST_TABLE}` WHERE grain = 'window'"  # noqa: S608
            )
            (latest,) = cursor.fetchone()
            return latest
    finally:
        connection.close()
