"""The engagement sink against the real MariaDB: one transaction per batch, counts set (never
added), rollups recomputed exactly, a ledger that skips replayed batches."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from analytics.models import (
    CommunityEngagement,
    EngagementActorWindow,
    EngagementDeadLetter,
    PostEngagement,
    SparkBatch,
)
from analytics.spark_runner import job_database_url as database_url
from spark_jobs.engagement import sink
from spark_jobs.engagement.sink import BatchInfo, apply_actor_counts, apply_dead_letters
from tests.support.spark_faults import Fault

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def actor_row(minute: int, post_id: int, actor_id: int, community_id: int = 7, **counts) -> dict:
    row = {
        # The sink takes naive UTC datetimes, as Django stores them in MySQL.
        "window_start": (T0 + timedelta(minutes=minute)).replace(tzinfo=None),
        "window_end": (T0 + timedelta(minutes=minute + 1)).replace(tzinfo=None),
        "community_id": community_id,
        "post_id": post_id,
        "actor_id": actor_id,
    }
    for column in sink.COUNT_COLUMNS:
        row[column] = counts.get(column, 0)
    row["net_likes"] = row["likes"] - row["unlikes"]
    row["engagement_score"] = (
        Decimal("0.1") * row["views"] + row["net_likes"] + 2 * row["comments"] + 3 * row["shares"]
    )
    return row


def batch(batch_id: int, query_name: str = sink.METRICS_QUERY) -> BatchInfo:
    return BatchInfo(
        query_name=query_name,
        query_id="0b5a1f3e-0000-4000-8000-000000000001",
        batch_id=batch_id,
        topic="test.events",
        start_offsets={"0": batch_id * 10},
        end_offsets={"0": batch_id * 10 + 10},
    )


def post_row(post_id: int, grain: str, start: datetime) -> PostEngagement:
    return PostEngagement.objects.get(post_id=post_id, grain=grain, window_start=start)


def test_a_replayed_batch_is_skipped_by_the_ledger():
    rows = [actor_row(0, post_id=1, actor_id=10, views=2, likes=1)]

    assert apply_actor_counts(rows, batch(0), url=database_url()) is True
    assert apply_actor_counts(rows, batch(0), url=database_url()) is False

    window = post_row(1, "window", T0)
    assert (window.views, window.likes, window.distinct_actors) == (2, 1, 1)
    ledger = SparkBatch.objects.get()
    assert (ledger.batch_id, ledger.end_offsets, ledger.message_count) == (0, {"0": 10}, 10)


def test_counts_are_set_from_the_latest_state_not_added():
    apply_actor_counts([actor_row(0, 1, 10, views=1)], batch(0), url=database_url())
    # Update mode re-emits the group with its full current value once it changes.
    apply_actor_counts([actor_row(0, 1, 10, views=3, shares=1)], batch(1), url=database_url())

    window = post_row(1, "window", T0)
    assert (window.views, window.shares) == (3, 1)
    assert window.engagement_score == Decimal("3.3")
    assert post_row(1, "hour", T0).views == 3
    assert EngagementActorWindow.objects.count() == 1


def test_hour_and_day_rollups_count_distinct_actors_exactly():
    apply_actor_counts(
        [
            actor_row(0, 1, 10, views=1),
            actor_row(0, 1, 11, views=1, likes=1),
            actor_row(1, 1, 10, views=1, comments=1),
            actor_row(0, 0, 12, posts_created=1),
            actor_row(0, 0, 13, members_joined=1),
        ],
        batch(0),
        url=database_url(),
    )
    apply_actor_counts(
        [actor_row(65, 1, 10, views=1, unlikes=1), actor_row(65, 2, 14, shares=2)],
        batch(1),
        url=database_url(),
    )

    assert post_row(1, "window", T0).distinct_actors == 2
    assert post_row(1, "window", T0 + timedelta(minutes=1)).distinct_actors == 1
    hour = post_row(1, "hour", T0)
    assert (hour.views, hour.likes, hour.comments, hour.distinct_actors) == (3, 1, 1, 2)
    assert hour.window_end == T0 + timedelta(hours=1)
    day = post_row(1, "day", T0.replace(hour=0))
    assert (day.views, day.likes, day.unlikes, day.net_likes, day.distinct_actors) == (
        4,
        1,
        1,
        0,
        2,
    )
    assert day.engagement_score == Decimal("2.4")
    assert not PostEngagement.objects.filter(post_id=0).exists()

    community_hour = CommunityEngagement.objects.get(community_id=7, grain="hour", window_start=T0)
    assert (community_hour.views, community_hour.posts_created, community_hour.members_joined) == (
        3,
        1,
        1,
    )
    assert community_hour.distinct_actors == 4
    community_day = CommunityEngagement.objects.get(community_id=7, grain="day")
    assert (community_day.views, community_day.shares, community_day.distinct_actors) == (4, 2, 5)
    assert community_day.engagement_score == Decimal("8.4")


def test_a_failure_inside_the_transaction_leaves_nothing_behind():
    rows = [actor_row(0, 1, 10, views=1), actor_row(0, 1, 11, views=1)]

    with pytest.raises(RuntimeError, match="injected"):
        apply_actor_counts(rows, batch(0), url=database_url(), hooks=Fault("fail_in_batch", 0))

    assert not EngagementActorWindow.objects.exists()
    assert not PostEngagement.objects.exists()
    assert not SparkBatch.objects.exists()
    assert apply_actor_counts(rows, batch(0), url=database_url()) is True
    assert post_row(1, "window", T0).views == 2


def test_dead_letters_are_stored_once_per_kafka_position():
    rows = [
        {
            "topic": "test.events",
            "partition": 1,
            "offset": 42,
            "kafka_timestamp": T0.replace(tzinfo=None),
            "raw_key": b"9",
            "raw_value": b"\xff not json",
            "error": "not a JSON object",
        }
    ]

    apply_dead_letters(rows, batch(0, sink.DEAD_LETTER_QUERY), url=database_url())
    apply_dead_letters(rows, batch(1, sink.DEAD_LETTER_QUERY), url=database_url())

    letter = EngagementDeadLetter.objects.get()
    assert (letter.partition, letter.offset, letter.error) == (1, 42, "not a JSON object")
    assert bytes(letter.raw_value) == b"\xff not json"
    assert letter.raw_text.endswith(" not json")
    assert SparkBatch.objects.filter(query_name=sink.DEAD_LETTER_QUERY).count() == 2


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
