"""The engagement sink against the real MariaDB: staged buckets merged in one transaction
with the ledger row, values set (never added), replayed batches skipped, leftovers of a
crashed attempt never merged. The JDBC staging write itself runs in the job's end-to-end
tests (test_engagement_job.py)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from analytics.models import (
    CommunityEngagement,
    EngagementDeadLetter,
    EngagementStaging,
    PostEngagement,
    SparkBatch,
)
from analytics.sketches import sketch_of
from analytics.spark_runner import job_database_url as database_url
from spark_jobs.contract import SCORE_WEIGHTS
from spark_jobs.engagement import sink
from spark_jobs.engagement.sink import BatchInfo, DeadLetter, apply_staged_buckets
from tests.support.spark_faults import Fault

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
GRAIN_LENGTH = {
    "window": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}


def stage(
    token: str,
    batch_id: int,
    *,
    post_id: int,
    grain: str = "window",
    actors: tuple[int, ...] = (10,),
    community_id: int = 7,
    **counts: int,
) -> None:
    """A bucket as Spark's executors write it to the staging table."""
    start = T0 if grain != "day" else T0.replace(hour=0)
    counts["net_likes"] = counts.get("likes", 0) - counts.get("unlikes", 0)
    score = sum(SCORE_WEIGHTS[c] * counts.get(c, 0) for c in SCORE_WEIGHTS)
    EngagementStaging.objects.create(
        batch_id=batch_id, token=token, post_id=post_id, community_id=community_id,
        grain=grain, window_start=start, window_end=start + GRAIN_LENGTH[grain],
        distinct_actors=len(set(actors)), actors_sketch=sketch_of(actors),
        engagement_score=score, **counts,
    )  # fmt: skip


def batch(batch_id: int, query_name: str = sink.METRICS_QUERY) -> BatchInfo:
    return BatchInfo(
        query_name=query_name,
        query_id="0b5a1f3e-0000-4000-8000-000000000001",
        batch_id=batch_id,
        topic="test.events",
        start_offsets={"0": batch_id * 10},
        end_offsets={"0": batch_id * 10 + 10},
    )


def apply(batch_id: int, token: str, rows: int = 1, **kwargs) -> bool:
    return apply_staged_buckets(
        batch(batch_id), token=token, output_rows=rows, url=database_url(), **kwargs
    )


def post_row(post_id: int, grain: str = "window") -> PostEngagement:
    return PostEngagement.objects.get(post_id=post_id, grain=grain)


def test_staged_buckets_land_in_the_post_and_community_tables_with_the_ledger_row():
    token = uuid.uuid4().hex
    stage(token, 0, post_id=1, views=2, likes=1, actors=(10, 11))
    stage(token, 0, post_id=1, grain="day", views=2, likes=1, actors=(10, 11))
    stage(token, 0, post_id=0, views=2, likes=1, posts_created=1, actors=(10, 11, 12))

    assert apply(0, token, rows=3) is True

    window = post_row(1)
    assert (window.views, window.likes, window.net_likes, window.distinct_actors) == (2, 1, 1, 2)
    assert window.engagement_score == Decimal("1.2") and window.community_id == 7
    assert window.window_end == T0 + timedelta(minutes=1)
    assert post_row(1, "day").window_start == T0.replace(hour=0)
    community = CommunityEngagement.objects.get(community_id=7)
    assert (community.views, community.posts_created, community.distinct_actors) == (2, 1, 3)
    assert not PostEngagement.objects.filter(post_id=0).exists()
    assert not EngagementStaging.objects.exists()
    ledger = SparkBatch.objects.get()
    assert (ledger.batch_id, ledger.end_offsets, ledger.message_count, ledger.output_rows) == (
        0, {"0": 10}, 10, 3,
    )  # fmt: skip


def test_a_replayed_batch_is_skipped_by_the_ledger():
    first, replay = uuid.uuid4().hex, uuid.uuid4().hex
    stage(first, 0, post_id=1, views=2)
    assert apply(0, first) is True
    stage(replay, 0, post_id=1, views=2)

    assert apply(0, replay) is False
    assert post_row(1).views == 2
    assert SparkBatch.objects.count() == 1


def test_values_are_set_from_the_latest_state_not_added():
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    stage(first, 0, post_id=1, views=1)
    apply(0, first)
    # Update mode re-emits the bucket with its full current value once it changes.
    stage(second, 1, post_id=1, views=3, shares=1, actors=(10, 11))
    apply(1, second)

    window = post_row(1)
    assert (window.views, window.shares, window.distinct_actors) == (3, 1, 2)
    assert window.engagement_score == Decimal("3.3")


def test_rows_of_a_crashed_attempt_are_never_merged_and_are_cleared():
    crashed, retried = uuid.uuid4().hex, uuid.uuid4().hex
    stage(crashed, 4, post_id=1, views=99)  # staged, then the job died before its commit
    stage(retried, 4, post_id=1, views=5)

    apply(4, retried)

    assert post_row(1).views == 5
    assert not EngagementStaging.objects.exists()


def test_a_failure_inside_the_transaction_leaves_nothing_behind():
    token = uuid.uuid4().hex
    stage(token, 0, post_id=1, views=2)

    with pytest.raises(RuntimeError, match="injected"):
        apply(0, token, hooks=Fault("fail_in_batch", 0))

    assert not PostEngagement.objects.exists()
    assert not SparkBatch.objects.exists()
    assert EngagementStaging.objects.count() == 1  # rolled back with the rest
    assert apply(0, token) is True
    assert post_row(1).views == 2


def test_late_events_are_set_on_the_batch_ledger_row():
    token = uuid.uuid4().hex
    apply(3, token, rows=0)

    for _ in range(2):  # a re-run of the batch reports the same number
        sink.late_events_record(sink.METRICS_QUERY, batch(3).query_id, 3, 7, url=database_url())

    assert SparkBatch.objects.get(batch_id=3).late_events == 7


def test_dead_letters_are_stored_once_per_kafka_position_with_the_batch():
    letter = DeadLetter(
        partition=1,
        offset=42,
        kafka_timestamp=T0.replace(tzinfo=None),
        raw_key=b"9",
        raw_value=b"\xff not json",
        error="not a JSON object",
    )

    apply(0, uuid.uuid4().hex, rows=0, dead_letters=[letter])
    # The same message in a later batch (the topic replayed from a new checkpoint).
    apply(1, uuid.uuid4().hex, rows=0, dead_letters=[letter])

    stored = EngagementDeadLetter.objects.get()
    assert (stored.topic, stored.partition, stored.offset, stored.error) == (
        "test.events", 1, 42, "not a JSON object",
    )  # fmt: skip
    assert bytes(stored.raw_value) == b"\xff not json"
    assert stored.raw_text.endswith(" not json")
    assert SparkBatch.objects.count() == 2


def test_a_failed_batch_stores_no_dead_letter():
    letter = DeadLetter(1, 43, None, None, b"{", "not a JSON object")

    with pytest.raises(RuntimeError, match="injected"):
        apply(0, uuid.uuid4().hex, rows=0, dead_letters=[letter], hooks=Fault("fail_in_batch", 0))

    assert not EngagementDeadLetter.objects.exists()


def test_batch_info_comes_from_the_checkpoint_offset_log(tmp_path: Path):
    (tmp_path / "offsets").mkdir()
    (tmp_path / "sources" / "0").mkdir(parents=True)
    (tmp_path / "metadata").write_text('{"id":"q-1"}')
    (tmp_path / "sources" / "0" / "0").write_text('v1\n{"t":{"1":0,"0":0}}')
    for batch_id, offsets in enumerate(({"0": 5, "1": 3}, {"0": 9, "1": 3})):
        (tmp_path / "offsets" / str(batch_id)).write_text(
            "v1\n"
            + json.dumps({"batchWatermarkMs": 60_000 * batch_id, "batchTimestampMs": 1_000})
            + "\n"
            + json.dumps({"t": offsets})
        )

    first = sink.read_batch_info(tmp_path, query_name="q", batch_id=0, topic="t")
    second = sink.read_batch_info(tmp_path, query_name="q", batch_id=1, topic="t")

    assert (first.query_id, first.message_count, first.watermark) == ("q-1", 8, None)
    assert first.batch_started_at == datetime(1970, 1, 1, 0, 0, 1)
    assert (second.start_offsets, second.end_offsets) == ({"0": 5, "1": 3}, {"0": 9, "1": 3})
    assert (second.message_count, second.watermark) == (4, datetime(1970, 1, 1, 0, 1))
