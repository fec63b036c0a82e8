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

import argparse
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DB = "bench_seed"


def database_url(name: str) -> str:
    base = os.environ.get("DATABASE_URL", "mysql://streamer:streamer@127.0.0.1:3307/streamer")
    return base.rsplit("/", 1)[0] + f"/{name}"


def env() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url(DB),
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-" + "x" * 40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "API_THROTTLE_ANON": "1000000/min",
        "API_THROTTLE_USER": "1000000/min",
        "API_THROTTLE_AUTH": "1000000/min",
        # No worker drains this broker database: queued publisher runs are simply dropped.
        "CELERY_BROKER_URL": "redis://127.0.0.1:6380/15",
        "MEDIA_ROOT": str(REPO / "var" / "bench-media"),
    }


def manage(*args: str, capture: bool = True) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=REPO, env=env(), text=True,
        capture_output=capture, check=True,
    )  # fmt: skip
    return result.stdout if capture else ""


def server_connection():
    """A connection to the database server (no database), from DATABASE_URL."""
    import MySQLdb

    match = re.match(r"mysql://([^:]+):([^@]*)@([^:/]+):(\d+)/", database_url(DB))
    if match is None:
        raise SystemExit("DATABASE_URL must look like mysql://user:password@host:port/name")
    user, password, host, port = match.groups()
    return MySQLdb.connect(host=host, port=int(port), user=user, passwd=password)


def fresh_database() -> None:
    connection = server_connection()
    cursor = connection.cursor()
    cursor.execute(f"DROP DATABASE IF EXISTS {DB}")
    cursor.execute(f"CREATE DATABASE {DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    connection.close()
    manage("migrate", "-v0")


def drop_database() -> None:
    connection = server_connection()
    connection.cursor().execute(f"DROP DATABASE IF EXISTS {DB}")
    connection.close()


def writes(output: str) -> tuple[int, float]:
    match = re.search(r"(\d+) writes in ([\d.]+) s", output)
    if not match:
        raise SystemExit(f"could not read the summary:\n{output[-2000:]}")
    return int(match.group(1)), float(match.group(2))


@contextmanager
def gunicorn(port: int):
    process = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "streamer.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "4", "--threads", "2", "--log-level", "warning"],
        cwd=REPO, env=env(),
    )  # fmt: skip
    try:
        import urllib.request

        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/communities/", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--communities", type=int, default=50)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--actions", type=int, default=200_000)
    parser.add_argument("--api-actions", type=int, default=3000)
    parser.add_argument("--live-seconds", type=float, default=30)
    parser.add_argument("--live-rate", type=float, default=2000)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}")
    try:
        fresh_database()
        started = time.monotonic()
        out = manage(
            "seed_fake_data", "--users", str(args.users), "--communities", str(args.communities),
            "--posts", str(args.posts), "--actions", str(args.actions), "--seed", "1",
        )  # fmt: skip
        elapsed = time.monotonic() - started
        count, _ = writes(out)
        print(f"direct: {args.users} users, {args.communities} communities, {args.posts} posts, "
              f"{args.actions} engagement actions: {elapsed:.1f} s wall, {count} writes, "
              f"{count / elapsed:.0f} writes/s")  # fmt: skip

        out = manage("seed_fake_data", "--live", "--rate", str(args.live_rate), "--duration",
                     str(args.live_seconds), "--seed", "2")  # fmt: skip
        count, seconds = writes(out)
        print(f"live (direct): asked {args.live_rate:.0f}/s for {args.live_seconds:.0f} s, "
              f"sustained {count / args.live_seconds:.0f} actions/s")  # fmt: skip

        fresh_database()
        with gunicorn(8765) as url:
            api_users = max(args.api_actions // 50, 10)
            started = time.monotonic()
            out = manage(
                "seed_fake_data", "--api", url, "--users", str(api_users), "--communities", "5",
                "--posts", str(max(args.api_actions // 20, 10)), "--actions",
                str(args.api_actions), "--seed", "3",
            )  # fmt: skip
            elapsed = time.monotonic() - started
            count, _ = writes(out)
            print(f"api (gunicorn 4x2): {count} writes in {elapsed:.1f} s: "
                  f"{count / elapsed:.0f} requests/s sustained")  # fmt: skip
            out = manage("seed_fake_data", "--api", url, "--live", "--rate",
                         str(args.live_rate), "--duration", str(args.live_seconds / 2),
                         "--seed", "4")  # fmt: skip
            count, _ = writes(out)
            print(f"live (api): sustained {count / (args.live_seconds / 2):.0f} actions/s")
    finally:
        drop_database()


if __name__ == "__main__":
    main()
