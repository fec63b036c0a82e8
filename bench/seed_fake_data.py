"""Benchmark: how fast `seed_fake_data` fills a fresh install and drives live traffic.

    .venv/bin/python bench/seed_fake_data.py [--users 1000 --communities 50 --posts 10000
        --actions 200000 --days 7 --workers 2] [--baseline-share 20] [--api-actions 3000]
        [--live-seconds 30 --live-rate 3000 --live-processes 1]

1. Back-fill: the full seed through the batch services (`--days` of history, `--workers`
   processes), timed end to end (plan, people, media, every action with its outbox event),
   with the peak resident memory of the command and its workers together.
   Baseline, same run: the one-by-one services (`--one-by-one`, the path before the batch
   forms) on 1/--baseline-share of the sizes.
2. Live: `--live` asked for more than it can do (--live-rate, shared by --live-processes
   generators) for --live-seconds on the back-filled data; the achieved rate is its ceiling
   through the services on this machine. The generator alone: no worker, Spark or web.
3. API mode: a smaller seed through the REST API v1 served by gunicorn (workers sized for 2
   cores), timed: sustained actions/s as an outside client sees it.

Every figure is printed with the machine's load. Everything runs in its own database
(bench_seed, dropped afterwards) with the configured MariaDB; the outbox fills but no worker
publishes it, so Kafka is not measured here.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    CORES,
    REPO,
    TreeMemory,
    app_env,
    arguments,
    database_drop,
    database_fresh,
    gunicorn,
    machine_load,
    manage,
    manage_command,
)

DB = "bench_seed"
API_PORT = 8765
API_WORKERS = 4


def writes(output: str) -> tuple[int, float]:
    match = re.search(r"(\d+) writes in ([\d.]+) s", output)
    if not match:
        raise SystemExit(f"could not read the summary:\n{output[-2000:]}")
    return int(match.group(1)), float(match.group(2))


def seed_timed(env: dict[str, str], *args: str) -> tuple[int, float, int]:
    """Run `seed_fake_data ARGS`: its writes, its wall time and the peak memory (bytes) of
    the command and its worker processes together."""
    started = time.monotonic()
    process = subprocess.Popen(
        manage_command("seed_fake_data", *args), cwd=REPO, env={**env, "COLUMNS": "200"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    with TreeMemory(process.pid) as memory:
        output, _ = process.communicate()
    elapsed = time.monotonic() - started
    if process.returncode:
        raise SystemExit(f"seed_fake_data failed:\n{output[-3000:]}")
    return writes(output)[0], elapsed, memory.peak_bytes


def main() -> None:
    args = arguments(
        __doc__, users=1000, communities=50, posts=10_000, actions=200_000, days=7.0,
        workers=2, baseline_share=20, api_actions=3000, live_seconds=30.0, live_rate=3000.0,
        live_processes=1,
    ).parse_args()  # fmt: skip
    env = app_env(DB)
    sizes = ["--users", str(args.users), "--communities", str(args.communities)]
    print(f"{CORES} cores; start: {machine_load()}", flush=True)
    try:
        database_fresh(DB)
        share = args.baseline_share
        base = ["--posts", str(args.posts // share), "--actions", str(args.actions // share),
                "--days", str(args.days), "--seed", "1"]  # fmt: skip
        count, elapsed, _ = seed_timed(env, *sizes, *base, "--one-by-one", "--workers",
                                       str(args.workers))  # fmt: skip
        baseline = count / elapsed
        print(f"  baseline, one-by-one services, 1/{args.baseline_share} of the sizes: {count} "
              f"writes in {elapsed:.1f} s = {baseline:.0f} writes/s; {machine_load()}",
              flush=True)  # fmt: skip

        database_fresh(DB)
        full = ["--posts", str(args.posts), "--actions", str(args.actions), "--days",
                str(args.days), "--workers", str(args.workers), "--seed", "1"]  # fmt: skip
        count, elapsed, peak = seed_timed(env, *sizes, *full)
        backfill = count / elapsed
        backfill_load = machine_load()
        print(f"  back-fill: {count} writes in {elapsed:.1f} s = {backfill:.0f} writes/s, peak "
              f"memory {peak / 2**20:.0f} MiB; {backfill_load}", flush=True)  # fmt: skip

        live = live_rate(env, args)
        live_load = machine_load()

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
            api_rate = count / elapsed
            api_load = machine_load()

        print(f"\nseed_fake_data ({CORES} cores)")
        print(f"  back-fill ({args.users} users, {args.communities} communities, {args.posts} "
              f"posts, {args.actions} actions, {args.days:g} days, {args.workers} workers): "
              f"{backfill:.0f} writes/s, peak memory {peak / 2**20:.0f} MiB; "
              f"{backfill_load}")  # fmt: skip
        print(f"  baseline, one-by-one services (1/{args.baseline_share} of the sizes): "
              f"{baseline:.0f} writes/s; ratio {backfill / baseline:.1f}x")  # fmt: skip
        print(f"  live, generator alone ({args.live_processes} process(es), asked "
              f"{args.live_rate:.0f}/s for {args.live_seconds:.0f} s): {live:.0f} actions/s; "
              f"{live_load}")  # fmt: skip
        print(f"  api (gunicorn {API_WORKERS}x2): {api_rate:.0f} requests/s sustained; {api_load}")
    finally:
        database_drop(DB)


def live_rate(env: dict[str, str], args) -> float:
    """The actions/s that --live-processes live generators achieved together."""
    per_process = str(args.live_rate / args.live_processes)
    generators = []
    for index in range(args.live_processes):
        command = manage_command(
            "seed_fake_data", "--live", "--rate", per_process, "--duration",
            str(args.live_seconds), "--seed", str(2 + index),
        )  # fmt: skip
        output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
        env_wide = {**env, "COLUMNS": "200"}
        generators.append(subprocess.Popen(command, cwd=REPO, env=env_wide, **output))
    total, seconds = 0, 0.0
    for generator in generators:
        output, _ = generator.communicate()
        if generator.returncode:
            raise SystemExit(f"a live generator failed:\n{output[-3000:]}")
        match = re.search(r"live: (\d+) actions in ([\d.]+) s", output)
        if not match:
            raise SystemExit(f"could not read the live summary:\n{output[-2000:]}")
        total, seconds = total + int(match.group(1)), max(seconds, float(match.group(2)))
    return total / seconds


if __name__ == "__main__":
    main()
