"""Benchmark: how fast `seed_fake_data` fills a fresh install and drives live traffic.

    .venv/bin/python bench/seed_fake_data.py [--users 1000 --communities 50 --posts 10000
        --actions 200000] [--api-actions 3000] [--live-seconds 30 --live-rate 2000]

1. Direct mode: the full seed through the service layer, timed end to end (people, media,
   every action with its outbox event).
2. API mode: a smaller seed through the REST API v1 served by gunicorn (workers sized for 2
   cores), timed: sustained actions/s as an outside client sees it.
3. Live mode: `--live` asked for more than it can do for a fixed time; the achieved rate is
   its sustained ceiling, through the services.

Everything runs in its own database (bench_seed, dropped afterwards) with the configured
MariaDB; the outbox fills but no worker publishes it, so Kafka is not measured here.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CORES, app_env, arguments, database_drop, database_fresh, gunicorn, manage

DB = "bench_seed"
API_PORT = 8765
API_WORKERS = 4


def writes(output: str) -> tuple[int, float]:
    match = re.search(r"(\d+) writes in ([\d.]+) s", output)
    if not match:
        raise SystemExit(f"could not read the summary:\n{output[-2000:]}")
    return int(match.group(1)), float(match.group(2))


def main() -> None:
    args = arguments(
        __doc__, users=1000, communities=50, posts=10_000, actions=200_000, api_actions=3000,
        live_seconds=30.0, live_rate=2000.0,
    ).parse_args()  # fmt: skip
    env = app_env(DB)
    print(f"cores: {CORES}")
    try:
        database_fresh(DB)
        started = time.monotonic()
        out = manage(
            env, "seed_fake_data", "--users", str(args.users), "--communities",
            str(args.communities), "--posts", str(args.posts), "--actions", str(args.actions),
            "--seed", "1",
        )  # fmt: skip
        elapsed = time.monotonic() - started
        count, _ = writes(out)
        print(f"direct: {args.users} users, {args.communities} communities, {args.posts} posts, "
              f"{args.actions} engagement actions: {elapsed:.1f} s wall, {count} writes, "
              f"{count / elapsed:.0f} writes/s")  # fmt: skip

        out = manage(env, "seed_fake_data", "--live", "--rate", str(args.live_rate), "--duration",
                     str(args.live_seconds), "--seed", "2")  # fmt: skip
        count, seconds = writes(out)
        print(f"live (direct): asked {args.live_rate:.0f}/s for {args.live_seconds:.0f} s, "
              f"sustained {count / args.live_seconds:.0f} actions/s")  # fmt: skip

        database_fresh(DB)
        with gunicorn(env, API_PORT, workers=API_WORKERS) as url:
            api_users = max(args.api_actions // 50, 10)
            started = time.monotonic()
            out = manage(
                env, "seed_fake_data", "--api", url, "--users", str(api_users), "--communities",
                "5", "--posts", str(max(args.api_actions // 20, 10)), "--actions",
                str(args.api_actions), "--seed", "3",
            )  # fmt: skip
            elapsed = time.monotonic() - started
            count, _ = writes(out)
            print(f"api (gunicorn {API_WORKERS}x2): {count} writes in {elapsed:.1f} s: "
                  f"{count / elapsed:.0f} requests/s sustained")  # fmt: skip
            out = manage(env, "seed_fake_data", "--api", url, "--live", "--rate",
                         str(args.live_rate), "--duration", str(args.live_seconds / 2),
                         "--seed", "4")  # fmt: skip
            count, _ = writes(out)
            print(f"live (api): sustained {count / (args.live_seconds / 2):.0f} actions/s")
    finally:
        database_drop(DB)


if __name__ == "__main__":
    main()
