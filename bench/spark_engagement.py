"""Benchmark of the engagement Spark job, started exactly as `make run` starts it.

    [DATABASE_URL=mysql://…/a_migrated_db] .venv/bin/python bench/spark_engagement.py \
        [--events 200000] [--max-offsets-per-trigger 50000] \
        [--live-rate 1000] [--live-seconds 300] [--trigger-interval "1 second"] \
        [--sweep 2000,4000,8000 --sweep-seconds 60]

1. Throughput: loads --events envelopes (realistic mix, popular posts get most traffic)
   into a fresh topic, runs `manage.py run_spark_job engagement --available-now` from the
   earliest offset, and prints events/s: messages over the time from the first batch's start
   to the last batch's commit (from the ledger), plus the wall time with Spark's start-up.
2. Freshness: starts the job in streaming mode on another fresh topic, produces
   --live-rate events/s for --live-seconds straight into Kafka with occurred_at = send time,
   and prints, per event, the time from occurred_at to the commit of the batch that made its
   count visible (the ledger's applied_at for the first batch whose end offset passes the
   event's offset): p50, p95, p99, max. The analytics API reads the metric tables directly
   (no cache), so the commit is when the count shows there. The outbox publish step
   (commit -> Kafka) is not included: bench/pipeline.py measures the whole path.
3. With --sweep, the same at each higher rate (--sweep-seconds each, same job), to find the
   highest rate at which p95 stays within 5 s.

Synthetic ids start at 900,000,000, and everything the run wrote (rows, ledger, topics,
checkpoints) is removed at the end unless --keep."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    REPO,
    arguments,
    bench_database_url,
    database_create,
    django_setup,
    manage_command,
    manage_timed,
    percentile,
    process_start,
    process_stop,
    work_dir,
)

# Its own database (kept between runs, emptied of what a run wrote): the job, started through
# manage.py with this environment, writes there too.
DB = "bench_engagement"
if "DATABASE_URL" not in os.environ:
    database_create(DB)
    os.environ["DATABASE_URL"] = bench_database_url(DB)
django_setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from kafka import KafkaProducer  # noqa: E402

from analytics.models import (  # noqa: E402
    CommunityEngagement,
    EngagementDeadLetter,
    PostEngagement,
    SparkBatch,
)
from events.envelope import (  # noqa: E402
    EventType,
    envelope_build,
    envelope_key,
    envelope_serialise,
)
from events.kafka_admin import topic_delete, topic_ensure  # noqa: E402

ID_BASE = 900_000_000
MIX = [
    (EventType.POST_VIEWED, 70),
    (EventType.POST_LIKED, 14),
    (EventType.POST_UNLIKED, 2),
    (EventType.COMMENT_CREATED, 7),
    (EventType.POST_SHARED, 3),
    (EventType.POST_CREATED, 1.5),
    (EventType.COMMUNITY_JOINED, 2),
    (EventType.COMMUNITY_LEFT, 0.5),
]


class Traffic:
    """Random envelopes: 50 communities, 5,000 posts with a heavy-tailed popularity, 20,000
    users."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.posts = list(range(ID_BASE, ID_BASE + 5_000))
        self.weights = [1 / (rank + 1) ** 0.8 for rank in range(len(self.posts))]
        self.types = [t for t, _ in MIX]
        self.type_weights = [w for _, w in MIX]

    def envelope(self, occurred_at: datetime) -> dict:
        event_type = self.rng.choices(self.types, self.type_weights)[0]
        post_id = self.rng.choices(self.posts, self.weights)[0]
        community_id = ID_BASE + post_id % 50
        community_level = event_type in (EventType.COMMUNITY_JOINED, EventType.COMMUNITY_LEFT)
        return envelope_build(
            event_type=event_type,
            actor_id=ID_BASE + self.rng.randrange(20_000),
            community_id=community_id,
            post_id=None if community_level else post_id,
            occurred_at=occurred_at,
        )


def producer() -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        acks="all",
        linger_ms=5,
        batch_size=256 * 1024,
    )


def send(kafka: KafkaProducer, topic: str, envelope: dict):
    return kafka.send(
        topic, key=envelope_key(envelope).encode(), value=envelope_serialise(envelope)
    )


def job_args(topic: str, checkpoint: Path, pid_file: Path, *options: str) -> list[str]:
    """`manage.py` arguments for the engagement job on TOPIC, as `make run` starts it."""
    return [
        "run_spark_job", "engagement", "--topic", topic, "--checkpoint-dir", str(checkpoint),
        "--pid-file", str(pid_file), *options,
    ]  # fmt: skip


def ledger(topic: str) -> list[SparkBatch]:
    return list(
        SparkBatch.objects.filter(query_name="engagement", topic=topic).order_by("batch_id")
    )


def new_topic(topics: list[str]) -> str:
    topic = f"bench.engagement.{uuid.uuid4().hex[:8]}"
    topic_ensure(name=topic, partitions=settings.KAFKA_EVENTS_PARTITIONS, retention_ms=3600_000)
    topics.append(topic)
    return topic


def throughput(args: argparse.Namespace, work: Path, log_path: Path, topics: list[str]) -> None:
    topic = new_topic(topics)
    traffic = Traffic()
    start = datetime.now(UTC) - timedelta(minutes=5)
    step = timedelta(minutes=4) / args.events
    began = time.monotonic()
    kafka = producer()
    for n in range(args.events):
        send(kafka, topic, traffic.envelope(start + n * step))
    kafka.flush()
    kafka.close()
    print(f"loaded {args.events} events into {topic} in {time.monotonic() - began:.1f} s")

    try:
        wall = manage_timed(
            dict(os.environ),
            *job_args(
                topic, work / "throughput", work / "throughput.pid", "--available-now",
                "--max-offsets-per-trigger", str(args.max_offsets_per_trigger),
            ),
            log=log_path, append=True,
        )  # fmt: skip
    except subprocess.CalledProcessError as failed:
        raise SystemExit(f"the job failed (status {failed.returncode}); see {log_path}") from failed
    batches = ledger(topic)
    messages = sum(b.message_count or 0 for b in batches)
    processing = (batches[-1].applied_at - batches[0].batch_started_at).total_seconds()
    full = [b for b in batches if b.message_count]
    warm = full[1:] or full
    warm_seconds = (warm[-1].applied_at - warm[0].batch_started_at).total_seconds()
    warm_messages = sum(b.message_count for b in warm)
    durations = [(b.applied_at - b.batch_started_at).total_seconds() for b in full]
    print(
        f"throughput: {messages} events in {len(full)} batches "
        f"(max {args.max_offsets_per_trigger}/batch): {processing:.1f} s from the first "
        f"batch's start to the last commit -> {messages / processing:,.0f} events/s; after "
        f"the first (warm-up) batch {warm_messages / warm_seconds:,.0f} events/s; wall time "
        f"with Spark start-up {wall:.1f} s; batch duration median "
        f"{statistics.median(durations):.1f} s"
    )


def freshness(args: argparse.Namespace, work: Path, log_path: Path, topics: list[str]) -> None:
    topic = new_topic(topics)
    pid_file = work / "live.pid"
    supervisor = process_start(
        manage_command(
            *job_args(topic, work / "live", pid_file, "--trigger-interval", args.trigger_interval)
        ),
        dict(os.environ),
        log_path,
        own_group=False,
    )
    try:
        kafka = producer()
        traffic = Traffic(seed=11)
        send(kafka, topic, traffic.envelope(datetime.now(UTC))).get(timeout=30)
        deadline = time.monotonic() + 300
        while not ledger(topic):
            if supervisor.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the job did not start; see {log_path}")
            time.sleep(0.5)
        rates = [(args.live_rate, args.live_seconds)]
        rates += [(int(rate), args.sweep_seconds) for rate in args.sweep.split(",") if rate]
        for rate, seconds in rates:
            delays, sent = live_run(kafka, traffic, topic, rate, seconds)
            print(
                f"freshness at {rate:,} events/s for {seconds} s (trigger "
                f"{args.trigger_interval}): {len(delays):,} of {sent:,} events visible; "
                f"occurred_at -> counted p50 {percentile(delays, 50):.2f} s, p95 "
                f"{percentile(delays, 95):.2f} s, p99 {percentile(delays, 99):.2f} s, max "
                f"{max(delays, default=float('nan')):.2f} s",
                flush=True,
            )
        kafka.close()
    finally:
        process_stop(supervisor, timeout=120)


def live_run(
    kafka: KafkaProducer, traffic: Traffic, topic: str, rate: int, seconds: int
) -> tuple[list[float], int]:
    """Send `rate` events/s for `seconds` (occurred_at = send time), wait until the job's
    ledger covers them, and return each event's delay to the commit that counted it."""
    sent: list[tuple[datetime, object]] = []
    began = time.monotonic()
    for n in range(rate * seconds):
        pause = began + n / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        now = datetime.now(UTC)
        sent.append((now, send(kafka, topic, traffic.envelope(now))))
    kafka.flush()
    positions = [(now, future.get(timeout=30)) for now, future in sent]
    last: dict[int, int] = {}
    for _, metadata in positions:
        last[metadata.partition] = max(last.get(metadata.partition, 0), metadata.offset + 1)
    deadline = time.monotonic() + 300
    while True:
        batches = ledger(topic)
        done = batches and all(
            batches[-1].end_offsets.get(str(p), 0) >= end for p, end in last.items()
        )
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    delays = []
    for occurred_at, metadata in positions:
        for batch in batches:
            if batch.end_offsets.get(str(metadata.partition), 0) > metadata.offset:
                delays.append((batch.applied_at - occurred_at).total_seconds())
                break
    return delays, len(positions)


def clean_up(topics: list[str], work: Path) -> None:
    for model, field in (
        (PostEngagement, "post_id"),
        (CommunityEngagement, "community_id"),
    ):
        model.objects.filter(**{f"{field}__gte": ID_BASE}).delete()
    SparkBatch.objects.filter(topic__in=topics).delete()
    EngagementDeadLetter.objects.filter(topic__in=topics).delete()
    for topic in topics:
        topic_delete(name=topic)
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = arguments(
        __doc__, events=200_000, max_offsets_per_trigger=50_000, live_rate=1000,
        live_seconds=300, trigger_interval="1 second", sweep="", sweep_seconds=60,
        skip_throughput=False, skip_freshness=False,
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep rows, topics, checkpoints")
    args = parser.parse_args()

    db = connection.settings_dict
    cores = settings.SPARK_ENGAGEMENT_CORES_MAX
    print(
        f"database {db['NAME']} at {db['HOST']}:{db['PORT']}, Spark {settings.SPARK_MASTER}"
        f"{f' (at most {cores} cores)' if cores else ''}, Kafka "
        f"{','.join(settings.KAFKA_BOOTSTRAP_SERVERS)} (topics: {settings.KAFKA_EVENTS_PARTITIONS} "
        f"partitions x {settings.KAFKA_EVENTS_REPLICATION_FACTOR} replicas)"
    )
    _, work = work_dir("spark-engagement")
    log_path = REPO / "var" / "log" / "bench-spark-engagement.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    topics: list[str] = []
    try:
        if not args.skip_throughput:
            throughput(args, work, log_path, topics)
        if not args.skip_freshness:
            freshness(args, work, log_path, topics)
    finally:
        if not args.keep:
            clean_up(topics, work)


if __name__ == "__main__":
    main()
