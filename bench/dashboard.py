"""Benchmark: the analytics API and the admin Analytics page over a month of minute-level
metrics.

    .venv/bin/python bench/dashboard.py [--posts 200] [--communities 20] [--days 30]
                                        [--rows 1000000] [--repeat 30] [--keep]

Generates what the engagement job would have written over `--days` days: about `--rows`
post stream-window rows (1-minute windows in which a post had activity; posts' activity
is Zipf-distributed and follows a daily rhythm) from generated actions of simulated
actors, and the post and community rows at the window, hour and day grains with the job's
semantics (sums, distinct actors). Community rows carry actor sketches where the dashboard
unions them (active users: hour rows, and window rows of the last two hours). Rows go in
with multi-row INSERTs in chunks.

Then it times, with Django's test client as a signed-in staff user, every request the
dashboard makes (summary, time series at each granularity, top lists, model runs and
predictions), one whole dashboard refresh, the dashboard page itself and the admin lists
of the metric tables: p50/p95 over `--repeat` requests, and the queries each one runs.

Runs against the configured MariaDB in its own database (bench_dashboard_<name>, dropped
afterwards unless --keep), so it never touches app data.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import arguments, django_database, django_setup, percentile

# A private cache, so the bench neither reads nor fills the running app's Redis cache.
os.environ["CACHE_URL"] = "locmemcache://bench-dashboard"

INSERT_CHUNK = 5_000
USERS = 20_000


def main() -> None:
    parser = arguments(__doc__, posts=200, communities=20, days=30)
    parser.add_argument("--rows", type=int, default=1_000_000, help="post window rows")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument(
        "--reuse", action="store_true", help="measure a database kept by --keep, without loading"
    )
    args = parser.parse_args()

    django_setup("kafka", "django.request")
    started = time.perf_counter()
    keep = args.keep or args.reuse
    with django_database("bench_dashboard", reuse=args.reuse, keep=keep, serialize=False) as name:
        print(f"database {name} migrated in {_since(started)}")
        if not args.reuse:
            now = datetime.now(UTC).replace(second=30, microsecond=0)
            counts = load(args, now)
            print(
                "loaded "
                + ", ".join(f"{n:,} {table}" for table, n in counts.items())
                + f" in {_since(started)}"
            )
        measure(args)


def _since(started: float) -> str:
    return f"{time.perf_counter() - started:.1f} s"


# --- data ---------------------------------------------------------------------------------


def load(args: argparse.Namespace, now: datetime) -> dict[str, int]:
    import numpy as np
    import pandas as pd
    from django.contrib.auth import get_user_model

    from analytics.models import EngagementDeadLetter, SparkBatch
    from analytics.sketches import sketch_of
    from communities.models import Community
    from posts.models import Post

    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    users = get_user_model()
    users.objects.create_user("bench-admin", is_staff=True, is_superuser=True)
    author = users.objects.create_user("bench-author")
    communities = Community.objects.bulk_create(
        Community(name=f"Community {n}", slug=f"community-{n}", member_count=1000 // (n + 1))
        for n in range(args.communities)
    )
    community_weights = 1 / np.arange(1, args.communities + 1) ** 1.1
    post_community = rng.choice(
        args.communities, size=args.posts, p=community_weights / community_weights.sum()
    )
    start = (now - timedelta(days=args.days)).replace(hour=0, minute=0, second=0)
    posts = Post.objects.bulk_create(
        Post(
            community=communities[post_community[n]],
            author=author,
            kind="quote",
            text=f"Bench quote number {n}: the quick brown fox jumps over the lazy dog.",
            created_at=start,
        )
        for n in range(args.posts)
    )

    minutes = int((now - start).total_seconds() // 60)
    hours_of_day = (np.arange(minutes) // 60 + start.hour) % 24
    rhythm = 0.35 + 0.65 * (1 + np.sin((hours_of_day - 14) / 24 * 2 * np.pi)) / 2
    rhythm /= rhythm.sum()
    post_weights = 1 / np.arange(1, args.posts + 1) ** 0.9
    per_post = np.minimum(
        np.round(args.rows * post_weights / post_weights.sum()).astype(int), minutes
    )
    post_ids, minute_index = [], []
    for n, count in enumerate(per_post):
        chosen = rng.choice(minutes, size=count, replace=False, p=rhythm)
        post_ids.append(np.full(count, posts[n].pk))
        minute_index.append(chosen)
    post_minute = pd.DataFrame(
        {"post_id": np.concatenate(post_ids), "minute": np.concatenate(minute_index)}
    )
    community_of = {p.pk: p.community_id for p in posts}
    post_minute["community_id"] = post_minute["post_id"].map(community_of)

    actors_per = 1 + rng.poisson(0.4, size=len(post_minute))
    actors = post_minute.loc[post_minute.index.repeat(actors_per)].reset_index(drop=True)
    actors["actor_id"] = rng.integers(1, USERS, size=len(actors))
    actors = actors.drop_duplicates(["post_id", "minute", "actor_id"]).reset_index(drop=True)
    size = len(actors)
    actors["views"] = 1 + rng.poisson(0.8, size)
    actors["likes"] = (rng.random(size) < 0.3).astype(int)
    actors["unlikes"] = ((rng.random(size) < 0.02) & (actors["likes"] == 0)).astype(int)
    actors["comments"] = (rng.random(size) < 0.1).astype(int)
    actors["shares"] = (rng.random(size) < 0.03).astype(int)
    for column in ("posts_created", "members_joined", "members_left"):
        actors[column] = 0

    community_rows = _community_activity(rng, communities, minutes)
    actors = pd.concat([actors, community_rows], ignore_index=True)
    actors["net_likes"] = actors["likes"] - actors["unlikes"]
    actors["score10"] = (
        actors["views"] + 10 * actors["net_likes"] + 20 * actors["comments"] + 30 * actors["shares"]
    )
    print(f"generated {len(actors):,} actions in {_since(started)}")

    epoch = np.datetime64(start.replace(tzinfo=None), "m")
    actors["window_start"] = epoch + actors["minute"].to_numpy().astype("timedelta64[m]")
    counts = {}
    recent = np.datetime64(now.replace(tzinfo=None), "m") - np.timedelta64(2, "h")

    sums = ["views", "likes", "unlikes", "net_likes", "comments", "shares", "score10"]
    community_sums = [*sums, "posts_created", "members_joined", "members_left"]
    post_rows = actors[actors["post_id"] > 0]
    for grain, unit in (("window", "m"), ("hour", "h"), ("day", "D")):
        bucket = post_rows["window_start"].dt.floor({"m": "min", "h": "h", "D": "D"}[unit])
        grouped = post_rows.assign(bucket=bucket).groupby(["post_id", "bucket"])
        rows = grouped[sums].sum().join(grouped["actor_id"].nunique().rename("actors"))
        rows = rows.join(grouped["community_id"].max()).reset_index()
        counts[f"post {grain} rows"] = _insert_metric_rows(
            "analytics_post_engagement", "post_id", rows, grain, unit, now, extra=("community_id",)
        )
        bucket = actors["window_start"].dt.floor({"m": "min", "h": "h", "D": "D"}[unit])
        grouped = actors.assign(bucket=bucket).groupby(["community_id", "bucket"])
        rows = grouped[community_sums].sum().join(grouped["actor_id"].nunique().rename("actors"))
        rows = rows.join(grouped["actor_id"].apply(set).rename("actor_ids")).reset_index()
        unioned = rows["bucket"] >= recent if grain == "window" else rows["bucket"].notna()
        rows["actors_sketch"] = [
            sketch_of(ids) if wanted else None
            for ids, wanted in zip(rows["actor_ids"], unioned, strict=True)
        ]
        counts[f"community {grain} rows"] = _insert_metric_rows(
            "analytics_community_engagement",
            "community_id",
            rows,
            grain,
            unit,
            now,
            extra=("posts_created", "members_joined", "members_left", "actors_sketch"),
        )

    SparkBatch.objects.create(
        query_name="engagement",
        query_id="bench",
        batch_id=1,
        topic="bench.dashboard.no-such-topic",
        end_offsets={"0": 0},
        applied_at=now,
    )
    EngagementDeadLetter.objects.bulk_create(
        EngagementDeadLetter(
            topic="streamer.events",
            partition=0,
            offset=n,
            raw_value=b"not json",
            error="malformed JSON",
            received_at=now - timedelta(hours=n),
        )
        for n in range(50)
    )
    _trend_rows(posts, now)
    return counts


def _community_activity(rng, communities, minutes: int):
    """Community-level actor rows (post_id 0): posts created and members joining."""
    import numpy as np
    import pandas as pd

    size = len(communities) * minutes // 30
    frame = pd.DataFrame(
        {
            "post_id": 0,
            "minute": rng.integers(0, minutes, size),
            "community_id": rng.choice([c.pk for c in communities], size),
            "actor_id": rng.integers(1, USERS, size),
        }
    ).drop_duplicates(["community_id", "minute", "actor_id"])
    size = len(frame)
    for column in ("views", "likes", "unlikes", "comments", "shares", "members_left"):
        frame[column] = 0
    frame["posts_created"] = (rng.random(size) < 0.5).astype(int)
    frame["members_joined"] = 1 - frame["posts_created"]
    return frame.astype({c: np.int64 for c in frame.columns})


def _insert_metric_rows(
    table: str, key: str, rows, grain: str, unit: str, now: datetime, extra: tuple[str, ...]
) -> int:
    step = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "D": timedelta(days=1)}[unit]
    columns = (
        key,
        "grain",
        "window_start",
        "window_end",
        "views",
        "likes",
        "unlikes",
        "net_likes",
        "comments",
        "shares",
        "distinct_actors",
        "engagement_score",
        "updated_at",
        *extra,
    )
    updated = now.replace(tzinfo=None)
    names = [
        key,
        "views",
        "likes",
        "unlikes",
        "net_likes",
        "comments",
        "shares",
        "actors",
        "score10",
        *extra,
    ]
    starts = rows["bucket"].to_numpy().astype("datetime64[us]").tolist()
    values = (
        (r[0], grain, start, start + step, *r[1:8], r[8] / 10, updated, *r[9:])
        for start, r in zip(starts, rows[names].itertuples(index=False, name=None), strict=True)
    )
    return _insert(table, columns, values)


def _insert(table: str, columns: tuple[str, ...], values: Iterator[tuple]) -> int:
    """Multi-row INSERTs (mysqlclient turns executemany into one statement per chunk), one
    transaction per chunk, unique checks relaxed: the generated keys are unique."""
    from django.db import connection, transaction

    sql = (
        f"INSERT INTO `{table}` ({', '.join(f'`{c}`' for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    total = 0
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION unique_checks = 0")
        while chunk := list(itertools.islice(values, INSERT_CHUNK)):
            with transaction.atomic():
                cursor.executemany(sql, chunk)
            total += len(chunk)
        cursor.execute("SET SESSION unique_checks = 1")
    return total


def _trend_rows(posts, now: datetime) -> None:
    from analytics.models import ModelRun, PredictionRun, TrendPrediction

    live = None
    for n in range(24):
        live = ModelRun.objects.create(
            version=f"bench.{n}",
            status="succeeded",
            started_at=now - timedelta(hours=24 - n),
            trained_at=now - timedelta(hours=24 - n) + timedelta(minutes=1),
            horizon_minutes=60,
            metrics={
                "model": {"mae_log1p": 0.7, "spearman": 0.6, "precision_at_10": 0.5},
                "persistence": {"mae_log1p": 0.9, "spearman": 0.4, "precision_at_10": 0.3},
                "szabo_huberman": {"mae_log1p": 0.8, "spearman": 0.5, "precision_at_10": 0.4},
            },
            promoted=True,
        )
    for n in range(30):
        as_of = now - timedelta(minutes=5 * n)
        run = PredictionRun.objects.create(
            model_run=live, status="succeeded", started_at=as_of, as_of=as_of
        )
        TrendPrediction.objects.bulk_create(
            TrendPrediction(
                run=run,
                model_run=live,
                post=post,
                predicted_engagement=100 / rank,
                trend_score=1.0,
                rank=rank,
                as_of=as_of,
                generated_at=as_of,
            )
            for rank, post in enumerate(posts, start=1)
        )


# --- measurements -------------------------------------------------------------------------


def measure(args: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from communities.models import Community
    from posts.models import Post

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-admin"))
    community = Community.objects.order_by("pk").first().slug
    post = Post.objects.order_by("pk").first().pk
    api = "/api/v1/analytics"
    refresh = [
        f"{api}/summary/",
        f"{api}/engagement/?granularity=hour",
        f"{api}/top/?entity=community&period=day",
        f"{api}/top/?entity=post&period=day",
        f"{api}/predictions/?limit=10",
        f"{api}/model-runs/?limit=20",
    ]
    cases: list[tuple[str, Callable[[], int]]] = []

    def get(url: str) -> Callable[[], int]:
        return lambda: client.get(url, follow=True).status_code

    for url in [
        f"{api}/summary/",
        f"{api}/engagement/?granularity=minute",
        f"{api}/engagement/?granularity=hour",
        f"{api}/engagement/?granularity=day",
        f"{api}/communities/{community}/engagement/?granularity=hour",
        f"{api}/communities/{community}/engagement/?granularity=day",
        f"{api}/posts/{post}/engagement/?granularity=minute",
        f"{api}/posts/{post}/engagement/?granularity=hour",
        f"{api}/top/?entity=post&period=hour",
        f"{api}/top/?entity=post&period=day",
        f"{api}/top/?entity=post&period=month",
        f"{api}/top/?entity=community&period=month&metric=likes",
        f"{api}/predictions/?batch=evaluated",
        f"{api}/model-runs/",
        "/admin/analytics/dashboard/",
        "/admin/analytics/postengagement/?grain__exact=day",
        "/admin/analytics/postengagement/?grain__exact=window",  # opens on today
        "/admin/analytics/postengagement/?grain__exact=window&q=1",
        "/admin/analytics/communityengagement/?grain__exact=hour",
        "/admin/analytics/engagementdeadletter/",
        "/admin/analytics/sparkbatch/",
    ]:
        cases.append((url, get(url)))

    def whole_refresh() -> int:
        statuses = [client.get(url).status_code for url in refresh]
        return max(statuses)

    cases.append(("one dashboard refresh (6 API calls)", whole_refresh))

    print(f"\n{'request':<66} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for name, call in cases:
        status = call()
        assert status == 200, f"{name}: HTTP {status}"
        times = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                call()
                times.append((time.perf_counter() - started) * 1000)
        p95 = percentile(times, 95)
        median, count = statistics.median(times), len(queries.captured_queries)
        print(f"{name:<66} {median:8.1f} {p95:8.1f} {count:8d}")


if __name__ == "__main__":
    main()
