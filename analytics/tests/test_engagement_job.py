"""The engagement job end to end: real Kafka, real MariaDB, Spark local, started the way
`make run` starts it (`manage.py run_spark_job engagement`) in a child process. The tables
must equal a ground truth computed here in plain Python, after duplicates, malformed
messages and crashes at any point."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from kafka import KafkaProducer

from analytics.models import (
    CommunityEngagement,
    EngagementDeadLetter,
    PostEngagement,
    SparkBatch,
)
from analytics.selectors.health import spark_status
from analytics.spark_runner import job_env
from events.envelope import EventType, envelope_build, envelope_key
from events.kafka_admin import topic_lag
from spark_jobs.contract import COMMUNITY_COUNTS, POST_COUNTS
from tests.support.processes import REPO_DIR, app_env

pytestmark = [pytest.mark.spark, pytest.mark.django_db(transaction=True)]

JOB_TIMEOUT = 300
POST_COMMUNITY = {1: 1, 2: 1, 3: 1, 4: 2}
POST_TYPES = [
    EventType.POST_VIEWED,
    EventType.POST_VIEWED,
    EventType.POST_VIEWED,
    EventType.POST_LIKED,
    EventType.POST_UNLIKED,
    EventType.COMMENT_CREATED,
    EventType.POST_SHARED,
]
COMMUNITY_TYPES = [EventType.COMMUNITY_JOINED, EventType.COMMUNITY_LEFT, EventType.POST_CREATED]
POST_COLUMNS = POST_COUNTS
COMMUNITY_COLUMNS = COMMUNITY_COUNTS
MALFORMED = [b"{not json", json.dumps({"event_id": "x", "schema_version": 2}).encode()]


def make_events(count: int, *, seed: int, start: datetime) -> list[dict]:
    """`count` valid envelopes spread over three minutes from `start`."""
    rng = random.Random(seed)
    events = []
    for _ in range(count):
        post_id = rng.choice(list(POST_COMMUNITY))
        event_type = rng.choice(POST_TYPES + COMMUNITY_TYPES)
        community_level = event_type in (EventType.COMMUNITY_JOINED, EventType.COMMUNITY_LEFT)
        events.append(
            envelope_build(
                event_type=event_type,
                actor_id=rng.randint(1, 6),
                community_id=POST_COMMUNITY[post_id],
                post_id=None if community_level else post_id,
                occurred_at=start + timedelta(milliseconds=rng.randint(0, 179_999)),
            )
        )
    return events


def produce(topic: str, envelopes: Iterable[dict], raw: Iterable[bytes] = ()) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all")
    for envelope in envelopes:
        producer.send(
            topic, key=envelope_key(envelope).encode(), value=json.dumps(envelope).encode()
        )
    for value in raw:
        producer.send(topic, key=b"1", value=value)
    producer.flush()
    producer.close()


def new_row() -> dict:
    row: dict = defaultdict(int)
    row["actors"] = set()
    return row


@dataclass
class Truth:
    posts: dict[tuple, tuple]
    communities: dict[tuple, tuple]


def ground_truth(envelopes: Iterable[dict]) -> Truth:
    """The expected table contents, computed without Spark: unique event ids, one-minute
    windows, hour and day buckets, exact distinct actors, score 0.1/1/2/3."""
    unique = {e["event_id"]: e for e in envelopes}.values()
    posts: dict[tuple, dict] = defaultdict(new_row)
    communities: dict[tuple, dict] = defaultdict(new_row)
    for event in unique:
        moment = datetime.strptime(event["occurred_at"], "%Y-%m-%dT%H:%M:%S.%f%z")
        buckets = {
            "window": moment.replace(second=0, microsecond=0),
            "hour": moment.replace(minute=0, second=0, microsecond=0),
            "day": moment.replace(hour=0, minute=0, second=0, microsecond=0),
        }
        event_type = event["event_type"]
        for grain, start in buckets.items():
            if event_type in POST_COLUMNS:
                row = posts[(event["post_id"], grain, start)]
                row[POST_COLUMNS[event_type]] += 1
                row["actors"].add(event["actor_id"])
            if event_type in POST_COLUMNS or event_type in COMMUNITY_COLUMNS:
                row = communities[(event["community_id"], grain, start)]
                row[{**POST_COLUMNS, **COMMUNITY_COLUMNS}[event_type]] += 1
                row["actors"].add(event["actor_id"])

    def counts(row: dict, extra: tuple[str, ...]) -> tuple:
        net = row["likes"] - row["unlikes"]
        score = Decimal("0.1") * row["views"] + net + 2 * row["comments"] + 3 * row["shares"]
        base = (row["views"], row["likes"], row["unlikes"], net, row["comments"], row["shares"])
        return (*base, *(row[c] for c in extra), len(row["actors"]), score)

    return Truth(
        posts={key: counts(row, ()) for key, row in posts.items()},
        communities={
            key: counts(row, ("posts_created", "members_joined", "members_left"))
            for key, row in communities.items()
        },
    )


BASE_FIELDS = ("views", "likes", "unlikes", "net_likes", "comments", "shares")


def table_contents() -> Truth:
    posts = {
        (r[0], r[1], r[2]): tuple(r[3:])
        for r in PostEngagement.objects.values_list(
            "post_id", "grain", "window_start", *BASE_FIELDS, "distinct_actors",
            "engagement_score",
        )
    }  # fmt: skip
    communities = {
        (r[0], r[1], r[2]): tuple(r[3:])
        for r in CommunityEngagement.objects.values_list(
            "community_id", "grain", "window_start", *BASE_FIELDS, "posts_created",
            "members_joined", "members_left", "distinct_actors", "engagement_score",
        )
    }  # fmt: skip
    return Truth(posts=posts, communities=communities)


def assert_tables_equal(truth: Truth) -> None:
    actual = table_contents()
    assert actual.posts == truth.posts
    assert actual.communities == truth.communities


def job_command(topic: str, checkpoint: Path, pid_file: Path, *options: str) -> list[str]:
    return [
        sys.executable, "manage.py", "run_spark_job", "engagement", "--topic", topic,
        "--checkpoint-dir", str(checkpoint), "--pid-file", str(pid_file), *options,
    ]  # fmt: skip


def fault_job_command(topic: str, checkpoint: Path, *options: str) -> list[str]:
    """The job itself with crash hooks (tests/support/spark_faults.py), in the environment
    the runner gives it."""
    return [
        sys.executable, "-m", "tests.support.spark_faults", "--topic", topic,
        "--checkpoint-dir", str(checkpoint), *options,
    ]  # fmt: skip


def run_job(
    topic: str, tmp_path: Path, *options: str, fault: str = "", log_name: str = "job.log"
) -> tuple[int, str]:
    """Run the job with --available-now to completion, through the runner, or with `fault`
    (ENGAGEMENT_FAULT) through the crash hooks; returns (exit status, its log)."""
    checkpoint, options = tmp_path / "checkpoint", ("--available-now", *options)
    if fault:
        env = {**job_env(), "SPARK_MASTER": "local[2]", "ENGAGEMENT_FAULT": fault}
        command = fault_job_command(topic, checkpoint, *options)
    else:
        env = {**app_env(), "SPARK_MASTER": "local[2]"}
        command = job_command(topic, checkpoint, tmp_path / "job.pid", *options)
    log_path = tmp_path / log_name
    with open(log_path, "wb") as log:
        status = subprocess.call(
            command,
            cwd=REPO_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=JOB_TIMEOUT,
        )
    return status, log_path.read_text(errors="replace")


def metric_ledger() -> list[SparkBatch]:
    return list(SparkBatch.objects.filter(query_name="engagement").order_by("batch_id"))


def assert_ledger_covers_topic(topic: str, message_count: int) -> None:
    ledger = metric_ledger()
    assert [b.batch_id for b in ledger] == list(range(len(ledger)))
    assert sum(b.message_count for b in ledger) == message_count
    assert topic_lag(topic, ledger[-1].end_offsets) == 0


def test_the_job_counts_exactly_once_with_duplicates_and_malformed_messages(kafka_topic, tmp_path):
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=4)
    events = make_events(60, seed=1, start=start)
    duplicates = events[:5]
    produce(kafka_topic, events + duplicates, raw=MALFORMED)

    status, log = run_job(kafka_topic, tmp_path)

    assert status == 0, log
    assert_tables_equal(ground_truth(events))
    letters = list(EngagementDeadLetter.objects.order_by("offset"))
    missing = "event_type, occurred_at, actor_id, community_id, post_id, payload"
    assert [(bytes(d.raw_value), d.error) for d in letters] == [
        (MALFORMED[0], "not a JSON object"),
        (MALFORMED[1], f"missing field(s): {missing}"),
    ]
    assert all(d.topic == kafka_topic for d in letters)
    assert_ledger_covers_topic(kafka_topic, len(events) + len(duplicates) + len(MALFORMED))
    assert spark_status().lag_events == 0


def test_events_behind_the_watermark_are_counted_as_late_not_as_engagement(kafka_topic, tmp_path):
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=4)
    events = make_events(20, seed=2, start=start)
    # Produced after the others, 30 minutes older: once the first batch has set the
    # watermark (newest event - 10 minutes), these two are behind it.
    late = make_events(2, seed=5, start=start - timedelta(minutes=30))
    produce(kafka_topic, events + late)

    status, log = run_job(kafka_topic, tmp_path, "--max-offsets-per-trigger", "10")

    assert status == 0, log
    assert_tables_equal(ground_truth(events))
    assert sum(b.late_events for b in metric_ledger()) == 2
    assert spark_status().late_events_today == 2


def test_crashes_inside_and_between_batches_never_double_count(kafka_topic, tmp_path):
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=4)
    events = make_events(60, seed=3, start=start)
    # The redeliveries land in later batches, after the restarts: the dedupe state must
    # come back from the checkpoint.
    produce(kafka_topic, events + events[:6], raw=MALFORMED[:1])
    small_batches = ("--max-offsets-per-trigger", "10")

    # Killed with rows of batch 1 written inside its open transaction.
    status, log = run_job(
        kafka_topic, tmp_path, *small_batches, fault="crash_in_batch:1", log_name="1.log"
    )
    assert status != 0
    assert [b.batch_id for b in metric_ledger()] == [0], log

    # Killed after batch 3 committed but before Spark recorded it: Spark re-runs batch 3.
    status, log = run_job(
        kafka_topic, tmp_path, *small_batches, fault="crash_after_commit:3", log_name="2.log"
    )
    assert status != 0
    assert [b.batch_id for b in metric_ledger()] == [0, 1, 2, 3], log

    status, log = run_job(kafka_topic, tmp_path, *small_batches, log_name="3.log")

    assert status == 0, log
    assert "batch 3 was already applied; skipped" in log
    assert_tables_equal(ground_truth(events))
    assert EngagementDeadLetter.objects.count() == 1
    assert_ledger_covers_topic(kafka_topic, len(events) + 6 + 1)


def test_a_job_killed_from_outside_while_streaming_recovers(kafka_topic, tmp_path):
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=4)
    events = make_events(60, seed=4, start=start)
    produce(kafka_topic, events + events[-4:])
    pid_file = tmp_path / "job.pid"
    env = {**app_env(), "SPARK_MASTER": "local[2]"}
    with open(tmp_path / "streaming.log", "wb") as log:
        supervisor = subprocess.Popen(
            job_command(
                kafka_topic, tmp_path / "checkpoint", pid_file,
                "--max-offsets-per-trigger", "8", "--trigger-interval", "1 second",
            ),
            cwd=REPO_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + JOB_TIMEOUT
        while len(metric_ledger()) < 3:
            assert supervisor.poll() is None, (tmp_path / "streaming.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        assert supervisor.wait(timeout=60) != 0
    finally:
        if supervisor.poll() is None:
            supervisor.send_signal(signal.SIGTERM)
            supervisor.wait(timeout=60)

    status, log = run_job(kafka_topic, tmp_path, log_name="restart.log")

    assert status == 0, log
    assert_tables_equal(ground_truth(events))
    assert_ledger_covers_topic(kafka_topic, len(events) + 4)
