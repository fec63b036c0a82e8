"""Benchmark 1, write path: sustained likes, unlikes and comments per second through the REST
API on gunicorn, with the transactional outbox on, beside the same endpoints with event
emission switched off (EVENTS_ENABLED=false); the ratio is what the pipeline costs a user.

    .venv/bin/python bench/write_path.py [--seconds 30] [--connections 16] [--posts 500]
                                         [--users 16] [--rounds 2]

gunicorn runs 2 x cores + 1 workers with 2 threads (bench/common.py); wrk (bench/wrk_write.lua)
sends like / unlike / comment in turn on random posts, one user per wrk thread. With the
outbox on, each action also writes its outbox row and queues the publisher task in Redis (no
Celery worker runs, so publishing itself does not compete for the CPU; bench/outbox_publisher.py
measures that). Rounds alternate off/on; the median of each side is shown.

Own database (bench_write, dropped afterwards) on the configured MariaDB.
"""

from __future__ import annotations

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
    manage,
    sql,
    wrk,
)

DB = "bench_write"
SCRIPT = REPO / "bench" / "wrk_write.lua"

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


def main() -> None:
    args = arguments(
        __doc__, seconds=30, connections=16, posts=500, users=16, rounds=2, port=8771
    ).parse_args()

    database_fresh(DB)
    try:
        out = manage(app_env(DB), "shell", "-c", SETUP.format(users=args.users, posts=args.posts))
        lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
        first, last = map(int, lines["IDS"].split())
        assert first == 1, "post ids must start at 1 (fresh database)"
        os.environ["TOKENS"] = lines["TOKENS"]
        os.environ["POSTS"] = str(last)
        results: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
        events: dict[str, list[float]] = {"off": [], "on": []}
        for _ in range(args.rounds):
            for side in ("off", "on"):
                env = app_env(DB, EVENTS_ENABLED="true" if side == "on" else "false")
                with gunicorn(env, args.port) as url:
                    wrk(url, connections=args.connections, seconds=3, script=SCRIPT, threads=4)
                    mid = int(sql("SELECT COUNT(*) FROM analytics_outboxevent", DB))
                    figures = wrk(
                        url,
                        connections=args.connections,
                        seconds=args.seconds,
                        script=SCRIPT,
                        threads=4,
                    )
                after = int(sql("SELECT COUNT(*) FROM analytics_outboxevent", DB))
                results[side].append(figures)
                events[side].append((after - mid) / args.seconds)
                print(
                    f"  {side:>3}: {figures['rps']:.0f} actions/s, p50 {figures['p50']:.1f} ms, "
                    f"p99 {figures['p99']:.1f} ms, errors {figures['errors']:.0f}, "
                    f"{events[side][-1]:.0f} events/s appended",
                    flush=True,
                )
        off = statistics.median(r["rps"] for r in results["off"])
        on = statistics.median(r["rps"] for r in results["on"])
        print(
            f"\nwrite path ({CORES} cores, gunicorn {gunicorn_workers()} workers x 2 threads, "
            f"wrk {args.connections} connections, {args.seconds} s x {args.rounds} rounds)"
        )
        for side, label in (("off", "events off (baseline)"), ("on", "outbox on")):
            rows = results[side]
            print(
                f"  {label:<24} {statistics.median(r['rps'] for r in rows):>8.0f} actions/s   "
                f"p50 {statistics.median(r['p50'] for r in rows):.1f} ms   "
                f"p95 {statistics.median(r['p95'] for r in rows):.1f} ms   "
                f"p99 {statistics.median(r['p99'] for r in rows):.1f} ms   "
                f"errors {sum(r['errors'] for r in rows):.0f}"
            )
        cost = 100 * (1 - on / off)
        print(f"  ratio outbox on / off: {on / off:.2f} (the pipeline costs {cost:.0f}% of it)")
    finally:
        database_drop(DB)


if __name__ == "__main__":
    main()
