"""Benchmark of the cluster topology (`make bench-cluster`): the pipeline on three Kafka nodes
and a Spark standalone cluster on this machine, against the single broker and one worker.

    STREAMER_TOPOLOGY=cluster .venv/bin/python bench/cluster.py [--scale full|small]
        [--events 5000000] [--posts 20000] [--outbox-events 20000] [--rounds 3]
        [--live-rate 1000] [--live-seconds 300] [--single-broker-port PORT]

It needs the cluster running (`STREAMER_TOPOLOGY=cluster infra/stack.sh start`; `make
bench-cluster` starts and stops it) and runs, one after another:

1. Replay scaling: bench/spark_replay.py replays --events events on the standalone master
   with one worker and with two (spark.cores.max 1 and 2; one core per worker), each on a
   fresh database and checkpoint, and prints both rates and the ratio.
2. Producer throughput: bench/outbox_publisher.py (bare producer and outbox publisher, both
   acks=all and idempotent) to topics with replication 3 and min.insync.replicas 2 on the
   three nodes, and the same against a single broker started for the run (its own data
   under var/bench/single-kafka, on --single-broker-port, default STREAMER_KAFKA_PORT + 6 and
   the port above for its controller; stopped afterwards).
3. Freshness: bench/spark_engagement.py streams --live-rate events/s for --live-seconds into
   a 6-partition, 3-replica topic and reports occurred_at -> counted p50/p95/p99, with the
   job on both workers (SPARK_ENGAGEMENT_CORES_MAX=2).

`--scale small` runs the same steps with sizes a loaded 2-core machine finishes in about
15 minutes. The closing block repeats the three figures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_DIR, PYTHON, REPO, arguments
from spark_jobs.contract import local_port

SIZES = {
    "full": {"events": 5_000_000, "posts": 20_000, "outbox_events": 20_000, "rounds": 3,
             "live_rate": 1000, "live_seconds": 300},
    "small": {"events": 100_000, "posts": 2_000, "outbox_events": 3_000, "rounds": 1,
              "live_rate": 200, "live_seconds": 30},
}  # fmt: skip
STACK = REPO / "infra" / "stack.sh"


def run(command: list[str], env: dict[str, str]) -> str:
    """Run a benchmark, echoing its output; the output."""
    print(f"\n$ {' '.join(command)}", flush=True)
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    if process.wait() != 0:
        raise SystemExit(f"{command[1]} failed (exit {process.returncode})")
    return "".join(lines)


def cluster_check(env: dict[str, str]) -> dict[str, str]:
    status = subprocess.run([str(STACK), "status"], env=env, text=True, capture_output=True)
    down = [line for line in status.stdout.splitlines() if " down " in f" {line} "]
    if env.get("STREAMER_TOPOLOGY") != "cluster" or down:
        raise SystemExit(
            "the cluster is not running: STREAMER_TOPOLOGY=cluster infra/stack.sh start "
            f"(or make bench-cluster)\n{status.stdout}"
        )
    addresses = subprocess.run([str(STACK), "addresses"], env=env, text=True, capture_output=True)
    return dict(line.split("=", 1) for line in addresses.stdout.splitlines() if "=" in line)


def single_broker_env(port: int) -> dict[str, str]:
    return {
        **os.environ,
        "STREAMER_TOPOLOGY": "single",
        "STREAMER_VAR_DIR": str(BENCH_DIR / "single-kafka"),
        "STREAMER_KAFKA_PORT": str(port),
        "STREAMER_KAFKA_CONTROLLER_PORT": str(port + 1),
    }


def figure(pattern: str, text: str) -> str:
    found = re.findall(pattern, text, re.MULTILINE)
    return found[-1] if found else "?"


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--scale", choices=tuple(SIZES), default="full")
    for name in SIZES["full"]:
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    parser.add_argument("--single-broker-port", type=int, default=None)
    args = parser.parse_args()
    sizes = {name: getattr(args, name) or value for name, value in SIZES[args.scale].items()}

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    addresses = cluster_check(env)
    master = addresses["SPARK_MASTER"]
    started = time.monotonic()

    replay = run(
        [PYTHON, "bench/spark_replay.py", "--masters", master, "--workers", "1,2",
         "--events", str(sizes["events"]), "--posts", str(sizes["posts"]),
         "--max-offsets-per-trigger", str(min(500_000, max(10_000, sizes["events"] // 10)))],
        env,
    )  # fmt: skip

    port = args.single_broker_port or local_port("KAFKA", 9092) + 6
    single = single_broker_env(port)
    subprocess.run([str(STACK), "start", "kafka"], env=single, check=True, timeout=300)
    try:
        producer = run(
            [PYTHON, "bench/outbox_publisher.py", "--events", str(sizes["outbox_events"]),
             "--rounds", str(sizes["rounds"]), "--compare-bootstrap", f"127.0.0.1:{port}",
             "--compare-label", "single broker"],
            env,
        )  # fmt: skip
    finally:
        subprocess.run([str(STACK), "stop", "kafka"], env=single, check=False, timeout=300)

    freshness = run(
        [PYTHON, "bench/spark_engagement.py", "--skip-throughput",
         "--live-rate", str(sizes["live_rate"]), "--live-seconds", str(sizes["live_seconds"])],
        {**env, "SPARK_ENGAGEMENT_CORES_MAX": "2"},
    )  # fmt: skip

    print(
        f"\ncluster topology ({addresses['KAFKA_BOOTSTRAP_SERVERS']}; {master}, 2 workers x 1 "
        f"core; {time.monotonic() - started:.0f} s in all)"
    )
    print(
        f"  replay of {sizes['events']:,} events: "
        + figure(r"scaling with executor cores: (.*)$", replay)
    )
    print("  producer, acks=all:")
    for line in re.findall(
        r"^(configured Kafka .*|single broker .*|ratio configured .*)$", producer, re.MULTILINE
    ):
        print(f"    {line}")
    print(f"  {figure(r'^(freshness at .*)$', freshness)} (job on 2 workers)")


if __name__ == "__main__":
    main()
