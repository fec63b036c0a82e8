"""Benchmark 2, read path: p50/p95/p99 latency and requests/s of the home feed page, a
community feed page and the post list API with POSTS posts and LIKES likes loaded, at 32
concurrent clients (wrk), plus the SQL queries each request runs on a cache miss and a hit;
all of it twice: with Redis (listings and cards cached) and with the cache pointed at a
closed port (Redis stopped, for this app only: every read from the database).

    .venv/bin/python bench/read_path.py [--posts 1000000] [--likes 10000000]
        [--users 100000] [--communities 100] [--connections 32] [--seconds 30] [--keep]
        [--no-redis-down]

Loading is in bulk and outside the API: INSERT ... SELECT from MariaDB's sequence engine
(seq_1_to_N), so 10,000,000 likes are one statement. Likes are spread evenly over posts
(user u likes LIKES/USERS distinct posts); like_count and hot_score are then computed from
them as posts/ranking.py does. Requests are anonymous (the site's public pages and API).
The baseline beside each page, measured in the same pass, is the post list API with
`page_size=1`: the framework and one-row cost. A "miss" is the first request after the
cache was emptied (it builds the listing and renders the cards), a "hit" the next one.

Own database (bench_read, dropped afterwards unless --keep; with --keep a second run with
the same sizes reuses the loaded data) and own cache (Redis database 14, emptied first).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    CORES,
    app_env,
    arguments,
    database_drop,
    database_fresh,
    gunicorn,
    gunicorn_workers,
    manage,
    sql,
    wrk,
)

DB = "bench_read"
HOT_EPOCH = "2024-01-01 00:00:00"

QUERIES = """
import json
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
client = Client(HTTP_HOST="127.0.0.1")
out = {}
for name, path in json.loads('PATHS').items():
    client.get(path)  # warm the process (imports, templates)
    cache.clear()
    with CaptureQueriesContext(connection) as miss:
        status = client.get(path).status_code
    with CaptureQueriesContext(connection) as hit:
        client.get(path)
    out[name] = [status, len(miss), len(hit)]
print("QUERIES", json.dumps(out))
"""


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def load(args: argparse.Namespace) -> None:
    users, posts, likes, communities = args.users, args.posts, args.likes, args.communities
    per_user = max(1, likes // users)
    assert per_user <= posts, "each user likes distinct posts: likes/users must be <= posts"
    steps = [
        (
            "users",
            f"""INSERT INTO auth_user (password, is_superuser, username, first_name,
            last_name, email, is_staff, is_active, date_joined)
            SELECT '!', 0, CONCAT('reader', seq), '', '', '', 0, 1, NOW(6)
            FROM seq_1_to_{users}""",  # noqa: S608 - integers from argparse
        ),
        (
            "communities",
            f"""INSERT INTO communities_community (name, slug, description,
            created_at, member_count, created_by_id)
            SELECT CONCAT('Community ', seq), CONCAT('community-', seq), 'Bench community',
            NOW(6), 0, 1 FROM seq_1_to_{communities}""",  # noqa: S608
        ),
        (
            "posts",
            f"""INSERT INTO posts_post (kind, text, attribution, media, thumbnail,
            media_content_type, created_at, like_count, comment_count, share_count, hot_score,
            author_id, community_id)
            SELECT 'quote', CONCAT('A quote worth reading, number ', seq), '', '', '', '',
            NOW(6) - INTERVAL (seq MOD 2592000) SECOND, 0, 0, 0, 0,
            1 + seq MOD {users}, 1 + seq MOD {communities} FROM seq_1_to_{posts}""",  # noqa: S608
        ),
        (
            "likes",
            f"""INSERT INTO posts_like (created_at, user_id, post_id)
            SELECT NOW(6), 1 + (seq - 1) DIV {per_user}, 1 + ((seq * 7919) MOD {posts})
            FROM seq_1_to_{per_user * users}""",  # noqa: S608
        ),
        (
            "like counts",
            """UPDATE posts_post p JOIN (SELECT post_id, COUNT(*) AS n
            FROM posts_like GROUP BY post_id) l ON l.post_id = p.id SET p.like_count = l.n""",
        ),
        (
            "hot scores",
            f"""UPDATE posts_post SET hot_score = LOG10(GREATEST(like_count, 1))
            + (UNIX_TIMESTAMP(created_at) - UNIX_TIMESTAMP('{HOT_EPOCH}')) / 45000""",  # noqa: S608
        ),
    ]
    for name, statement in steps:
        started = time.monotonic()
        sql(statement, DB)
        print(f"  loaded {name} in {time.monotonic() - started:.1f} s", flush=True)


def measure(env: dict[str, str], paths: dict[str, str], args: argparse.Namespace) -> list:
    """Queries per request (miss, hit), then wrk on each path: [(name, figures, queries)]."""
    out = manage(env, "shell", "-c", QUERIES.replace("PATHS", json.dumps(paths)))
    queries = json.loads(out.split("QUERIES ", 1)[1])
    rows = []
    with gunicorn(env, args.port) as url:
        for name, path in paths.items():
            wrk(url + path, connections=args.connections, seconds=3)  # warm-up
            figures = wrk(url + path, connections=args.connections, seconds=args.seconds)
            rows.append((name, figures, queries[name]))
            print(f"  {name}: {figures} queries {queries[name]}", flush=True)
    return rows


def report(title: str, rows: list) -> None:
    print(f"  {title}")
    baseline = rows[-1][1]["rps"]
    for name, f, (status, miss, hit) in rows:
        print(
            f"    {name:<32} {f['rps']:>7.0f} req/s  p50 {f['p50']:>7.1f} ms  "
            f"p95 {f['p95']:>7.1f} ms  p99 {f['p99']:>7.1f} ms  "
            f"queries miss {miss:>2} hit {hit:>2}  HTTP {status}  errors {f['errors']:.0f}  "
            f"(x{f['rps'] / baseline:.2f} of baseline)"
        )


def main() -> None:
    parser = arguments(
        __doc__, posts=1_000_000, likes=10_000_000, users=100_000, communities=100,
        connections=32, seconds=30, port=8772, keep=False, no_redis_down=False,
    )  # fmt: skip
    args = parser.parse_args()

    loaded = sql(f"SHOW DATABASES LIKE '{DB}'").strip() and sql(
        "SELECT COUNT(*) FROM posts_post", DB
    ).strip() == str(args.posts)
    if not loaded:
        database_fresh(DB)
        started = time.monotonic()
        load(args)
        print(f"  bulk load: {time.monotonic() - started:.1f} s", flush=True)
    like_rows = int(sql("SELECT COUNT(*) FROM posts_like", DB))
    paths = {
        "home feed page": "/",
        "community feed page": "/c/community-7/",
        "post list API": "/api/v1/posts/",
        "baseline: post list API, 1 row": "/api/v1/posts/?page_size=1",
    }
    # Throttles out of the way per second, not per minute: DRF keeps every request of the
    # window in the cache, so at these rates a per-minute window pickles tens of thousands of
    # timestamps into and out of Redis on every API request (the baseline's too).
    unthrottled = {f"API_THROTTLE_{kind}": "100000000/s" for kind in ("ANON", "USER", "AUTH")}
    passes = {"with Redis: listings and cards cached": app_env(DB, **unthrottled)}
    if not args.no_redis_down:
        down = f"rediscache://127.0.0.1:{closed_port()}/0"
        passes["Redis stopped (CACHE_URL on a closed port): from the database"] = app_env(
            DB, CACHE_URL=down, **unthrottled
        )
    try:
        results = {}
        for title, env in passes.items():
            print(f"  pass: {title}", flush=True)
            results[title] = measure(env, paths, args)
        print(
            f"\nread path ({CORES} cores, {args.posts:,} posts, {like_rows:,} likes, "
            f"{args.users:,} users; gunicorn {gunicorn_workers()} workers x 2 threads; "
            f"wrk {args.connections} connections x {args.seconds} s each)"
        )
        for title, rows in results.items():
            report(title, rows)
    finally:
        if not args.keep:
            database_drop(DB)


if __name__ == "__main__":
    main()
