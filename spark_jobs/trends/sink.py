"""Writing a prediction batch into the Django-owned tables `analytics_trend_prediction` and
`analytics_community_trend`, in one transaction.

The batch belongs to a PredictionRun row the Celery task created; readers only look at
runs the task marked succeeded, so rows written here become visible all at once. Writing
the same run again replaces its rows (delete, then insert), so a retried job never
duplicates them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from MySQLdb.cursors import Cursor

from spark_jobs.common.db import run_in_transaction
from spark_jobs.contract import Tables

POST_TABLE = Tables.TREND_PREDICTION
COMMUNITY_TABLE = Tables.COMMUNITY_TREND
CHUNK = 500

POST_COLUMNS = (
    "run_id",
    "model_run_id",
    "post_id",
    "predicted_engagement",
    "last_hour_engagement",
    "trend_score",
    "rank",
    "as_of",
    "generated_at",
)
COMMUNITY_COLUMNS = (
    "run_id",
    "model_run_id",
    "community_id",
    "predicted_engagement",
    "last_hour_engagement",
    "trend_score",
    "rank",
    "posts_scored",
    "as_of",
    "generated_at",
)


def _insert(cursor: Cursor, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    names = ", ".join(f"`{column}`" for column in columns)
    marks = ", ".join(["%s"] * len(columns))
    statement = f"INSERT INTO `{table}` ({names}) VALUES ({marks})"  # noqa: S608
    for offset in range(0, len(rows), CHUNK):
        cursor.executemany(statement, rows[offset : offset + CHUNK])


def predictions_write(
    *,
    run_id: int,
    model_run_id: int,
    generated_at: datetime,
    posts: list[dict[str, Any]],
    communities: list[dict[str, Any]],
    url: str | None = None,
) -> None:
    """Replace the run's rows with `posts` and `communities` (dicts with the columns of
    `model.ranked_posts` / `model.community_trends`)."""
    post_rows = [
        (
            run_id,
            model_run_id,
            row["post_id"],
            float(row["predicted_engagement"]),
            float(row["last_hour_engagement"]),
            float(row["trend_score"]),
            int(row["rank"]),
            row["as_of"],
            generated_at,
        )
        for row in posts
    ]
    community_rows = [
        (
            run_id,
            model_run_id,
            row["community_id"],
            float(row["predicted_engagement"]),
            float(row["last_hour_engagement"]),
            float(row["trend_score"]),
            int(row["rank"]),
            int(row["posts_scored"]),
            row["as_of"],
            generated_at,
        )
        for row in communities
    ]

    def work(cursor: Cursor) -> None:
        for table in (POST_TABLE, COMMUNITY_TABLE):
            cursor.execute(f"DELETE FROM `{table}` WHERE run_id = %s", [run_id])  # noqa: S608
        _insert(cursor, POST_TABLE, POST_COLUMNS, post_rows)
        _insert(cursor, COMMUNITY_TABLE, COMMUNITY_COLUMNS, community_rows)

    run_in_transaction(work, url=url)
