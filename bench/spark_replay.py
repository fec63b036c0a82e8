"""Benchmark 4, Spark replay: events/s when the engagement job replays --events events from
Kafka (`run_spark_job --available-now`, from the earliest offset, into an empty database),
beside a plain kafka-python consumer computing the same per-post and per-community counts
in Python, in the same run on the same topic. The results are compared row by row.

    .venv/bin/python bench/spark_replay.py [--events 5000000] [--posts 20000]
        [--max-offsets-per-trigger 500000] [--masters "local[1],local[2]"]
        [--workers 1,2 [--worker-cores 1]]

On a Spark standalone cluster (`--masters spark://127.0.0.1:7077`, e.g. the one
`STREAMER_TOPOLOGY=cluster infra/stack.sh start` runs), `--workers 1,2` replays once per
count, the job limited to that many workers' cores (spark.cores.max = workers x
--worker-cores: with one core per worker the master gives it one executor per worker), and
prints the scaling ratio.

Events: views, likes, unlikes, comments and shares (70/15/3/8/4 %) on --posts posts in 50
communities by 100,000 actors, occurred_at rising over the last 30 minutes (in time order,
as the outbox publishes, so none falls behind the job's 10-minute watermark), produced with
a bare producer (not timed).

For each Spark master in --masters (one run each, on a fresh database and checkpoint):
- the rate from the job's ledger (first batch start to last commit) and with JVM start-up;
- each batch's time split: Kafka read (the topic read alone by Spark, measured in a separate
  pass, scaled to the batch's messages), the rest of the Spark work (parse, dedupe, state,
  aggregation), and the database (staging write by the executors + the merge transaction);
- the driver JVM's heap peak (jstat, sampled every 0.5 s) and the state the job keeps
  (rows of its de-duplication and aggregation state after the last batch);
- per-post and per-community counts (day rows) equal to the plain consumer's, and the
  distinct-actor estimates against the exact counts (relative error: mean, p99, max).

Own database (bench_replay) and topic, removed afterwards.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    CORES,
    app_env,
    arguments,
    database_drop,
    database_fresh,
    manage,
    manage_timed,
    percentile,
    sql,
    topic_delete,
    work_dir,
)
from events.envelope import EventType, envelope_build, envelope_key, envelope_serialise
from spark_jobs.contract import POST_COUNTS, local_kafka_bootstrap

DB = "bench_replay"
MIX = [
    (EventType.POST_VIEWED, 70),
    (EventType.POST_LIKED, 15),
    (EventType.POST_UNLIKED, 3),
    (EventType.COMMENT_CREATED, 8),
    (EventType.POST_SHARED, 4),
]
COLUMNS = tuple(POST_COUNTS.values())
BATCH_LINE = re.compile(
    r"engagement batch (\d+): (\d+) messages, (\d+) buckets, applied "
    r"\(spark ([\d.]+) s, staging ([\d.]+) s, merge ([\d.]+) s\)"
)
STATE_LINE = re.compile(r"engagement batch \d+: .*; state: (.*)$")


def produce(topic: str, bootstrap: str, events: int, posts: int) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        linger_ms=20,
        batch_size=512 * 1024,
        compression_type="zstd",
    )
    rng = random.Random(5)
    types = [name for name, weight in MIX for _ in range(weight)]
    now = datetime.now(UTC)
    for n in range(events):
        post = rng.randint(1, posts)
        # In time order with a few seconds of jitter, as the outbox publishes: random times
        # over 30 minutes put most of each later batch behind the 10-minute watermark.
        moment = now - timedelta(seconds=1800 * (1 - n / events) + rng.random() * 5)
        envelope = envelope_build(
            event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            event_type=types[n % len(types)],
            occurred_at=moment,
            actor_id=rng.randint(1, 100_000),
            community_id=post % 50 + 1,
            post_id=post,
        )
        producer.send(
            topic, key=envelope_key(envelope).encode(), value=envelope_serialise(envelope)
        )
    producer.flush()
    producer.close()


def topic_records(topic: str, bootstrap: str):
    """Every record on the topic, from the beginning to the end offsets as of now."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        max_poll_records=5000,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    end = consumer.end_offsets(partitions)
    try:
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=500).values():
                yield from batch
    finally:
        consumer.close()


def consume_plain(topic: str, bootstrap: str) -> tuple[Counter, int, float]:
    """The baseline: per (post, column) and (community, column) totals, deduplicated on
    event_id like the job, in plain single-threaded Python; and the time it took."""
    started = time.monotonic()
    counts: Counter[tuple[str, int, str]] = Counter()
    seen: set[str] = set()
    messages = 0
    for record in topic_records(topic, bootstrap):
        messages += 1
        envelope = json.loads(record.value)
        if envelope["event_id"] in seen:
            continue
        seen.add(envelope["event_id"])
        column = POST_COUNTS[envelope["event_type"]]
        counts[("post", envelope["post_id"], column)] += 1
        counts[("community", envelope["community_id"], column)] += 1
    return counts, messages, time.monotonic() - started


def exact_actors(topic: str, bootstrap: str) -> dict[tuple[str, int, str], int]:
    """Untimed ground truth: exact distinct actors per (post|community, id, UTC day)."""
    actors: dict[tuple[str, int, str], set[int]] = defaultdict(set)
    for record in topic_records(topic, bootstrap):
        envelope = json.loads(record.value)
        day = envelope["occurred_at"][:10]
        actors[("post", envelope["post_id"], day)].add(envelope["actor_id"])
        actors[("community", envelope["community_id"], day)].add(envelope["actor_id"])
    return {key: len(ids) for key, ids in actors.items()}


def kafka_read_rate(topic: str, bootstrap: str, master: str, cores: int | None) -> float:
    """Messages/s at which Spark reads the topic alone (Kafka source, no processing)."""
    code = (
        "import os, sys, time; sys.path.insert(0, '.');"
        "from spark_jobs.common.session import spark_session;"
        "spark = spark_session('bench-kafka-read');"
        f"reader = spark.read.format('kafka').option('kafka.bootstrap.servers', {bootstrap!r})"
        f".option('subscribe', {topic!r}).option('startingOffsets', 'earliest');"
        "reader.load().count();"  # a first pass warms the JVM and the connector
        "t = time.monotonic(); n = reader.load().select('value').count();"
        "print('READ', n / (time.monotonic() - t))"
    )
    env = {**os.environ, "SPARK_MASTER": master, "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("SPARK_CORES_MAX", None)
    if cores:
        env["SPARK_CORES_MAX"] = str(cores)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return float(re.search(r"READ ([\d.]+)", result.stdout).group(1))


class HeapSampler(threading.Thread):
    """The Spark driver JVM's heap in use (jstat), sampled until stopped; the peak in MiB."""

    def __init__(self, pid_file: Path) -> None:
        super().__init__(daemon=True)
        self.pid_file = pid_file
        self.peak_kib = 0.0
        self.halt = threading.Event()

    def run(self) -> None:
        """One jstat process printing every 500 ms (a jstat started per sample is a JVM
        start-up each time, which takes a core away from the job it measures); started again
        while the JVM is too young to be attached to."""
        while not self.halt.is_set():
            jvm = self._jvm_pid()
            if jvm is None:
                self.halt.wait(0.5)
                continue
            jstat = subprocess.Popen(
                ["jstat", "-gc", str(jvm), "500"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            reader = threading.Thread(target=self._read, args=(jstat,), daemon=True)
            reader.start()
            while jstat.poll() is None and not self.halt.wait(0.5):
                pass
            jstat.terminate()
            jstat.wait()
            self.halt.wait(0.5)

    def _read(self, jstat: subprocess.Popen) -> None:
        header: list[str] = []
        for line in jstat.stdout:
            fields = line.split()
            if not fields or fields[0] == "S0C":
                header = fields or header
                continue
            row = dict(zip(header, fields, strict=False))
            used = sum(float(row.get(name, 0)) for name in ("S0U", "S1U", "EU", "OU"))
            self.peak_kib = max(self.peak_kib, used)

    def _jvm_pid(self) -> int | None:
        """The java child of the job process named in the runner's pid file."""
        try:
            job = int(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        children = Path(f"/proc/{job}/task/{job}/children")
        for child in children.read_text().split() if children.exists() else ():
            if b"java" in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
        return None


def spark_rows() -> tuple[Counter, dict[tuple[str, int, str], int]]:
    """Day-row counts and distinct-actor estimates of the job, keyed like the baseline."""
    counts: Counter[tuple[str, int, str]] = Counter()
    distinct: dict[tuple[str, int, str], int] = {}
    for kind, table, key in (
        ("post", "analytics_post_engagement", "post_id"),
        ("community", "analytics_community_engagement", "community_id"),
    ):
        rows = sql(
            f"SELECT {key}, DATE(window_start), distinct_actors, {', '.join(COLUMNS)} "  # noqa: S608
            f"FROM {table} WHERE grain = 'day'",
            DB,
        )
        for line in rows.splitlines():
            entity, day, actors, *values = line.split("\t")
            distinct[(kind, int(entity), day)] = int(actors)
            for column, value in zip(COLUMNS, values, strict=True):
                if int(value):
                    counts[(kind, int(entity), column)] += int(value)
    return counts, distinct


def relative_errors(estimates: dict, exact: dict) -> list[float]:
    return [abs(estimates.get(key, 0) - count) / count for key, count in exact.items()]


def spark_runs(args) -> list[tuple[str, int | None]]:
    """(master, cores max) of each replay: every master, and on a standalone master each
    worker count in --workers."""
    runs: list[tuple[str, int | None]] = []
    workers = [int(n) for n in args.workers.split(",") if n]
    for master in args.masters.split(","):
        if master.startswith("spark://") and workers:
            runs += [(master, n * args.worker_cores) for n in workers]
        else:
            runs.append((master, None))
    return runs


def run_label(master: str, cores: int | None, worker_cores: int) -> str:
    if cores is None:
        return master
    workers = cores // worker_cores
    return f"{master} {workers} worker{'s' if workers > 1 else ''}"


def run_spark(args, env: dict[str, str], work: Path, master: str, cores: int | None) -> dict:
    """One replay on a fresh database and checkpoint; its figures."""
    database_fresh(DB)
    name = re.sub(r"[^\w.-]+", "_", f"{master}-{cores or 'all'}")
    log = work / f"spark-{name}.log"
    pid_file = work / f"spark-{name}.pid"
    sampler = HeapSampler(pid_file)
    sampler.start()
    limit = {"SPARK_ENGAGEMENT_CORES_MAX": str(cores)} if cores else {}
    try:
        wall = manage_timed(
            {**env, **limit, "SPARK_MASTER": master, "SPARK_CHECKPOINT_DIR": str(work / name)},
            "run_spark_job", "--available-now",
            "--max-offsets-per-trigger", str(args.max_offsets_per_trigger),
            "--pid-file", str(pid_file), "engagement", log=log,
        )  # fmt: skip
    finally:
        sampler.halt.set()
        sampler.join()
    ledger = sql(
        "SELECT TIMESTAMPDIFF(MICROSECOND, MIN(batch_started_at), MAX(applied_at)) / 1e6,"
        " SUM(message_count) FROM analytics_spark_batch WHERE query_name = 'engagement'",
        DB,
    ).split()
    text = log.read_text(errors="replace")
    batches = [tuple(float(x) for x in m.groups()) for m in BATCH_LINE.finditer(text)]
    states = STATE_LINE.findall(text)
    counts, distinct = spark_rows()
    return {
        "master": master,
        "label": run_label(master, cores, args.worker_cores),
        "cores": cores,
        "seconds": float(ledger[0]),
        "messages": int(float(ledger[1])),
        "wall": wall,
        "batches": batches,
        "state": states[-1] if states else "?",
        "heap_mib": sampler.peak_kib / 1024,
        "counts": counts,
        "distinct": distinct,
    }


def report_split(run: dict, read_rate: float) -> None:
    """Batch time split (batches with messages, the first one left out as JVM warm-up)."""
    full = [b for b in run["batches"] if b[1]][1:] or [b for b in run["batches"] if b[1]]
    kafka = sum(b[1] / read_rate for b in full)
    spark = sum(b[3] for b in full)
    database = sum(b[4] + b[5] for b in full)
    total = spark + database
    print(
        f"    batch time split over {len(full)} batches ({total:.1f} s): Kafka read "
        f"{kafka / total:.0%} (at {read_rate:,.0f} msg/s read alone), Spark compute "
        f"{(spark - kafka) / total:.0%}, database {database / total:.0%} (staging write "
        f"{sum(b[4] for b in full):.1f} s, merge {sum(b[5] for b in full):.1f} s)"
    )


def main() -> None:
    parser = arguments(
        __doc__,
        events=5_000_000,
        posts=20_000,
        max_offsets_per_trigger=500_000,
        masters="local[1],local[2]",
        workers="",
        worker_cores=1,
    )
    parser.add_argument(
        "--topic", help="replay this existing topic (kept afterwards) instead of producing one"
    )
    args = parser.parse_args()

    run, work = work_dir("replay")
    topic = args.topic or f"bench.replay.{run}"
    env = app_env(DB, KAFKA_EVENTS_TOPIC=topic)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", local_kafka_bootstrap())
    database_fresh(DB)
    manage(env, "kafka_setup")
    try:
        if not args.topic:
            started = time.monotonic()
            produce(topic, bootstrap, args.events, args.posts)
            print(f"  produced {args.events:,} events in {time.monotonic() - started:.0f} s")
        plain, messages, plain_seconds = consume_plain(topic, bootstrap)
        plain_rate = messages / plain_seconds
        print(f"  plain consumer: {messages:,} in {plain_seconds:.1f} s", flush=True)
        exact = exact_actors(topic, bootstrap)
        runs = [run_spark(args, env, work, master, cores) for master, cores in spark_runs(args)]
        read_rate = kafka_read_rate(topic, bootstrap, runs[-1]["master"], runs[-1]["cores"])
        print(
            f"\nspark replay ({CORES} cores, {args.events:,} events on {args.posts:,} posts, "
            f"max {args.max_offsets_per_trigger:,} offsets per trigger)"
        )
        print(f"  plain kafka-python consumer      {plain_rate:>10,.0f} events/s  "
              f"({plain_seconds:.1f} s)")  # fmt: skip
        for spark in runs:
            rate = spark["messages"] / spark["seconds"]
            errors = relative_errors(spark["distinct"], exact)
            print(
                f"  Spark job {spark['label']:<9} ledger  {rate:>10,.0f} events/s  "
                f"({spark['seconds']:.1f} s; wall incl. JVM {spark['wall']:.1f} s); "
                f"ratio to plain {rate / plain_rate:.2f}"
            )
            report_split(spark, read_rate)
            print(
                f"    driver heap peak {spark['heap_mib']:,.0f} MiB; state after the last "
                f"batch: {spark['state']}"
            )
            print(
                f"    counts equal to the plain consumer (post and community day rows): "
                f"{spark['counts'] == plain}; distinct actors vs exact over {len(errors):,} "
                f"post/community days: mean error {sum(errors) / len(errors):.3%}, p99 "
                f"{percentile(errors, 99):.3%}, max {max(errors):.3%}"
            )
        if len(runs) > 1:
            rates = [r["messages"] / r["seconds"] for r in runs]
            print(
                "  scaling with executor cores: "
                + ", ".join(f"{r['label']} {x:,.0f}/s" for r, x in zip(runs, rates, strict=True))
                + f" (x{rates[-1] / rates[0]:.2f})"
            )
    finally:
        if not args.topic:
            topic_delete(env, topic)
        database_drop(DB)


if __name__ == "__main__":
    main()
