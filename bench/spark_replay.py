"""Benchmark 4, Spark replay: events/s when the engagement job replays --events events from
Kafka (`run_spark_job --available-now`, from the earliest offset, into an empty database),
beside a plain kafka-python consumer computing the same per-post counts in Python, in the
same run on the same topic. The two results are compared post by post.

    .venv/bin/python bench/spark_replay.py [--events 5000000] [--posts 20000]
                                           [--max-offsets-per-trigger 500000]

Events: views, likes, unlikes, comments and shares (70/15/3/8/4 %) on --posts posts in 50
communities by 100,000 actors, occurred_at rising over the last 30 minutes (in time order,
as the outbox publishes, so none falls behind the job's 10-minute watermark), produced with
a bare producer (not timed). Spark is timed two ways: wall time of
the command (JVM start-up included) and from its ledger (first batch start to last commit).

Own database (bench_replay) and topic, removed afterwards.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import uuid
from collections import Counter
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


def consume_plain(topic: str, bootstrap: str) -> tuple[dict[tuple[int, str], int], int, float]:
    """Per (post, count column) totals, deduplicated on event_id like the job; and the time."""
    from kafka import KafkaConsumer, TopicPartition

    started = time.monotonic()
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
    counts: Counter[tuple[int, str]] = Counter()
    seen: set[str] = set()
    messages = 0
    while any(consumer.position(tp) < end[tp] for tp in partitions):
        for batch in consumer.poll(timeout_ms=500).values():
            for record in batch:
                messages += 1
                envelope = json.loads(record.value)
                if envelope["event_id"] in seen:
                    continue
                seen.add(envelope["event_id"])
                counts[(envelope["post_id"], POST_COUNTS[envelope["event_type"]])] += 1
    consumer.close()
    return dict(counts), messages, time.monotonic() - started


def main() -> None:
    args = arguments(
        __doc__, events=5_000_000, posts=20_000, max_offsets_per_trigger=500_000
    ).parse_args()

    run, work = work_dir("replay")
    topic = f"bench.replay.{run}"
    env = app_env(DB, KAFKA_EVENTS_TOPIC=topic, SPARK_CHECKPOINT_DIR=str(work / "checkpoints"))
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", local_kafka_bootstrap())
    database_fresh(DB)
    manage(env, "kafka_setup")
    try:
        started = time.monotonic()
        produce(topic, bootstrap, args.events, args.posts)
        print(
            f"  produced {args.events:,} events in {time.monotonic() - started:.0f} s", flush=True
        )

        plain, messages, plain_seconds = consume_plain(topic, bootstrap)
        print(f"  plain consumer: {messages:,} in {plain_seconds:.1f} s", flush=True)

        spark_wall = manage_timed(
            env, "run_spark_job", "--available-now",
            "--max-offsets-per-trigger", str(args.max_offsets_per_trigger),
            "--pid-file", str(work / "spark.pid"), "engagement", log=work / "spark.log",
        )  # fmt: skip
        ledger = sql(
            "SELECT TIMESTAMPDIFF(MICROSECOND, MIN(batch_started_at), MAX(applied_at)) / 1e6,"
            " SUM(message_count) FROM analytics_spark_batch WHERE query_name = 'engagement'",
            DB,
        ).split()
        ledger_seconds, ledger_messages = float(ledger[0]), int(float(ledger[1]))
        rows = sql(
            "SELECT post_id, SUM(views), SUM(likes), SUM(unlikes), SUM(comments), SUM(shares)"
            " FROM analytics_post_engagement WHERE grain = 'day' GROUP BY post_id",
            DB,
        )
        spark: dict[tuple[int, str], int] = {}
        for line in rows.splitlines():
            post, *values = (int(float(v)) for v in line.split("\t"))
            for column, value in zip(
                ("views", "likes", "unlikes", "comments", "shares"), values, strict=True
            ):
                if value:
                    spark[(post, column)] = value
        equal = spark == plain
        print(
            f"\nspark replay ({CORES} cores, {args.events:,} events on {args.posts:,} posts, "
            f"max {args.max_offsets_per_trigger:,} offsets per trigger)"
        )
        print(
            f"  plain kafka-python consumer   {messages / plain_seconds:>10,.0f} events/s  "
            f"({plain_seconds:.1f} s)"
        )
        print(
            f"  Spark job, from its ledger    {ledger_messages / ledger_seconds:>10,.0f} events/s  "
            f"({ledger_seconds:.1f} s, {ledger_messages:,} messages)"
        )
        print(
            f"  Spark job, wall incl. JVM     {args.events / spark_wall:>10,.0f} events/s  "
            f"({spark_wall:.1f} s)"
        )
        print(
            "  ratio Spark (ledger) / plain: "
            f"{(ledger_messages / ledger_seconds) / (messages / plain_seconds):.2f}"
        )
        print(f"  per-post counts equal: {equal} ({len(plain):,} post x count cells)")
    finally:
        topic_delete(env, topic)
        database_drop(DB)


if __name__ == "__main__":
    main()
