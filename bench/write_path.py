"""Benchmark 1, write path: sustained likes, unlikes and comments per second through the REST
API on gunicorn, with the transactional outbox on, beside the same endpoints with event
emission switched off (EVENTS_ENABLED=false), and beside the read benchmark's baseline
request (the post list API with page_size=1, anonymous) on the same server, database and
connections, in the same run. Ratios: outbox on / off (what the pipeline costs a user) and
outbox on / the 1-row GET (what a write costs beside the framework's floor).

    .venv/bin/python bench/write_path.py [--seconds 30] [--connections 16] [--posts 500]
                                         [--users 16] [--rounds 2]

gunicorn runs 2 x cores + 1 workers with 2 threads (bench/common.py); wrk (bench/wrk_write.lua)
sends like / unlike / comment in turn on random posts, one user per wrk thread. With the
outbox on, each action also writes its outbox row and, at most once per publisher run, queues
the publisher task in Redis (no Celery worker runs, so publishing itself does not compete
for the CPU; bench/outbox_publisher.py measures that). Rounds alternate GET/off/on; the
median of each side is shown. Before the load, one request of each kind is profiled in
process (Django's test client, no HTTP): its queries and its server time.

Own database (bench_write, dropped afterwards) on the configured MariaDB.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    CORES,
    REPO,
    app_env,
    arguments,
    database_drop,
    database_fresh,
    gunicorn,
    gunicorn_workers,
    machine_load,
    manage,
    sql,
    wrk,
)

DB = "bench_write"
SCRIPT = REPO / "bench" / "wrk_write.lua"
BASELINE_PATH = "/api/v1/posts/?page_size=1"

SETUP = """
from django.contrib.auth import get_user_model
from accounts.services import token_for
from communities.services import community_create, community_join
from posts.services import post_create
User = get_user_model()
owner = User.objects.create_user(username="bench-owner", password="x" * 12)
community = community_create(creator=owner, name="Bench", slug="bench")
tokens = []
for n in range({users}):
    user = User.objects.create_user(username=f"bench{{n}}", password="x" * 12)
    community_join(user=user, community=community)
    tokens.append(token_for(user=user))
ids = [post_create(author=owner, community=community, kind="quote", text=f"Post {{n}}").pk
       for n in range({posts})]
print("IDS", min(ids), max(ids))
print("TOKENS", ",".join(tokens))
"""

# One request of each kind, in process: its SQL queries and the median server time of 50.
PROFILE = """
import json, statistics, time
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
token = "TOKEN"
user = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION="Token " + token)
anonymous = Client(HTTP_HOST="127.0.0.1")
def like(n): return user.post(f"/api/v1/posts/{n}/like/")
def unlike(n): return user.delete(f"/api/v1/posts/{n}/like/")
def comment(n): return user.post(f"/api/v1/posts/{n}/comments/", {"body": "c"},
                                 content_type="application/json")
def get(n): return anonymous.get("BASELINE")
out = {}
for name, call in (("like", like), ("unlike", unlike), ("comment", comment), ("get", get)):
    call(1)
    with CaptureQueriesContext(connection) as ctx:
        status = call(2).status_code
    queries = len(ctx.captured_queries)  # now: every request clears the log it reads
    times = []
    for n in range(3, 53):
        started = time.perf_counter()
        call(n)
        times.append(time.perf_counter() - started)
    out[name] = [status, queries, statistics.median(times) * 1000]
print("PROFILE", json.dumps(out))
"""


def main() -> None:
    args = arguments(
        __doc__, seconds=30, connections=16, posts=500, users=16, rounds=2, port=8771
    ).parse_args()

    print(f"start: {machine_load()}", flush=True)
    database_fresh(DB)
    try:
        out = manage(app_env(DB), "shell", "-c", SETUP.format(users=args.users, posts=args.posts))
        lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
        first, last = map(int, lines["IDS"].split())
        assert first == 1, "post ids must start at 1 (fresh database)"
        os.environ["TOKENS"] = lines["TOKENS"]
        os.environ["POSTS"] = str(last)
        code = PROFILE.replace("TOKEN", lines["TOKENS"].split(",")[0])
        profile = manage(app_env(DB), "shell", "-c", code.replace("BASELINE", BASELINE_PATH))
        profiled = json.loads(profile.split("PROFILE ", 1)[1])
        results: dict[str, list[dict[str, float]]] = {"get": [], "off": [], "on": []}
        for _ in range(args.rounds):
            for side in ("get", "off", "on"):
                env = app_env(DB, EVENTS_ENABLED="false" if side == "off" else "true")
                with gunicorn(env, args.port) as url:
                    target = {"url": url + BASELINE_PATH} if side == "get" else {
                        "url": url, "script": SCRIPT, "threads": 4}  # fmt: skip
                    wrk(connections=args.connections, seconds=3, **target)
                    mid = int(sql("SELECT COUNT(*) FROM analytics_outboxevent", DB))
                    figures = wrk(connections=args.connections, seconds=args.seconds, **target)
                after = int(sql("SELECT COUNT(*) FROM analytics_outboxevent", DB))
                results[side].append(figures)
                print(
                    f"  {side:>3}: {figures['rps']:.0f} requests/s, p50 {figures['p50']:.1f} ms, "
                    f"p99 {figures['p99']:.1f} ms, errors {figures['errors']:.0f}, "
                    f"{(after - mid) / args.seconds:.0f} events/s appended; {machine_load()}",
                    flush=True,
                )
        rate = {side: statistics.median(r["rps"] for r in rows) for side, rows in results.items()}
        print(
            f"\nwrite path ({CORES} cores, gunicorn {gunicorn_workers()} workers x 2 threads, "
            f"wrk {args.connections} connections, {args.seconds} s x {args.rounds} rounds; "
            f"{machine_load()})"
        )
        for side, label in (
            ("get", "baseline: GET 1-row post list"),
            ("off", "writes, events off"),
            ("on", "writes, outbox on"),
        ):
            rows = results[side]
            print(
                f"  {label:<30} {rate[side]:>7.0f} requests/s   "
                f"p50 {statistics.median(r['p50'] for r in rows):.1f} ms   "
                f"p95 {statistics.median(r['p95'] for r in rows):.1f} ms   "
                f"p99 {statistics.median(r['p99'] for r in rows):.1f} ms   "
                f"errors {sum(r['errors'] for r in rows):.0f}"
            )
        print(f"  ratio writes (outbox on) / GET baseline: {rate['on'] / rate['get']:.2f}")
        print(f"  ratio outbox on / events off:            {rate['on'] / rate['off']:.2f}")
        print("  one request in process (server time, median of 50; queries):")
        for name, (status, queries, ms) in profiled.items():
            print(f"    {name:<8} {ms:6.1f} ms  {queries:2d} queries  HTTP {status}")
    finally:
        database_drop(DB)


if __name__ == "__main__":
    main()
