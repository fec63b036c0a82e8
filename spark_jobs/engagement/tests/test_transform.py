"""The engagement transforms on small static DataFrames (and one small file stream for what
only a stream has: the watermark across micro-batches)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from datasketches import hll_sketch, hll_union
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_jobs import contract
from spark_jobs.contract import EVENT_TYPES
from spark_jobs.engagement import transform
from spark_jobs.engagement.schema import KAFKA_RECORD_SCHEMA

pytestmark = pytest.mark.spark

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def naive(moment: datetime) -> datetime:
    """How PySpark hands timestamps back in a UTC process: naive."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def event(
    event_type: str,
    *,
    seconds: float = 0,
    actor_id: int = 1,
    community_id: int = 7,
    post_id: int | None = 100,
    event_id: uuid.UUID | None = None,
) -> dict:
    """A v1 envelope as the outbox publishes it (events.envelope.envelope_build; the
    contract test in tests/test_contract.py keeps the two in step)."""
    if event_type in contract.COMMUNITY_EVENT_TYPES:
        post_id = None
    moment = at(seconds)
    return {
        "event_id": str(event_id or uuid.uuid4()),
        "event_type": event_type,
        "schema_version": contract.SCHEMA_VERSION,
        "occurred_at": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        "actor_id": actor_id,
        "community_id": community_id,
        "post_id": post_id,
        "payload": {},
    }


def kafka_frame(spark: SparkSession, values: list[bytes | str | dict | None]) -> DataFrame:
    """Rows shaped like Spark's Kafka source, received two hours after T0."""
    rows = []
    for offset, value in enumerate(values):
        if isinstance(value, dict):
            value = json.dumps(value)
        if isinstance(value, str):
            value = value.encode()
        rows.append((b"k", value, "test.events", 0, offset, naive(at(7200)), 0))
    return spark.createDataFrame(rows, KAFKA_RECORD_SCHEMA)


def buckets_of(frame: DataFrame, grain: str = "window") -> dict[tuple[float, int], dict]:
    """The emitted buckets of one grain: (start in seconds after T0, post id; 0 = the
    community) -> the non-zero counts, distinct actors and score."""
    found = {}
    for row in frame.where(F.col("grain") == grain).collect():
        values = {c: row[c] for c in (*contract.COUNT_COLUMNS, "net_likes") if row[c]}
        values["actors"] = row.distinct_actors
        values["score"] = row.engagement_score
        start = (row.window_start - naive(T0)).total_seconds()
        found[(start, row.post_id)] = values
    return found


def test_every_valid_envelope_parses_with_its_event_time(spark):
    envelopes = [event(event_type, seconds=n) for n, event_type in enumerate(EVENT_TYPES)]

    parsed = transform.parse_envelopes(kafka_frame(spark, envelopes))

    expected = spark.createDataFrame(
        [
            (e["event_id"], e["event_type"], e["post_id"], naive(at(n)), None)
            for n, e in enumerate(envelopes)
        ],
        "event_id string, event_type string, post_id long, event_time timestamp, error string",
    )
    assert_rows(parsed.select("event_id", "event_type", "post_id", "event_time", "error"), expected)


VALID = event("post_liked")


MALFORMED = [
    (None, "empty message"),
    ("", "empty message"),
    ("not json {", "not a JSON object"),
    ("[1, 2]", "not a JSON object"),
    (b"\xff\xfe\x00", "not a JSON object"),
    ('{"event_id": "a", "event_id": "b"}', "duplicate field"),
    (
        {k: v for k, v in VALID.items() if k not in ("actor_id", "post_id")},
        "missing field(s): actor_id, post_id",
    ),
    ({**VALID, "extra": 1}, "unexpected field(s): extra"),
    ({**VALID, "actor_id": "5"}, "actor_id must be an integer"),
    ({**VALID, "community_id": 1.5}, "community_id must be an integer"),
    ({**VALID, "post_id": 10**30}, "post_id must be an integer"),
    ({**VALID, "schema_version": 2}, "unsupported schema_version 2"),
    ({**VALID, "schema_version": None}, "unsupported schema_version null"),
    ({**VALID, "event_id": "not-a-uuid"}, "event_id is not a UUID"),
    ({**VALID, "event_id": VALID["event_id"].upper()}, "event_id is not a UUID"),
    ({**VALID, "event_type": "post_exploded"}, "unknown event_type post_exploded"),
    (
        {**VALID, "occurred_at": "2026-11-30T12:00:00Z"},
        "occurred_at is not a UTC ISO-8601 time with milliseconds",
    ),
    (
        {**VALID, "occurred_at": "2026-13-45T12:00:00.000Z"},
        "occurred_at is not a UTC ISO-8601 time with milliseconds",
    ),
    (
        {**VALID, "occurred_at": 1764504000},
        "occurred_at is not a UTC ISO-8601 time with milliseconds",
    ),
    ({**VALID, "actor_id": 0}, "actor_id must be >= 1"),
    ({**VALID, "post_id": None}, "post_id is required for post_liked"),
    ({**event("community_joined"), "post_id": 3}, "post_id must be null for community_joined"),
    ({**VALID, "payload": [1]}, "payload must be an object"),
    (
        {**VALID, "occurred_at": "2027-01-01T00:00:00.000Z"},
        "occurred_at is more than 5 minutes after the Kafka timestamp",
    ),
]


def test_each_malformed_message_gets_the_first_rule_it_breaks(spark):
    parsed = transform.parse_envelopes(kafka_frame(spark, [VALID] + [v for v, _ in MALFORMED]))

    errors = [row.error for row in parsed.orderBy("offset").collect()]

    assert errors == [None] + [error for _, error in MALFORMED]


def test_rejected_messages_come_out_once_with_their_raw_bytes_and_position(spark):
    garbage = b"\xffgarbage"
    unsupported = json.dumps({**VALID, "schema_version": 3}).encode()
    records = kafka_frame(spark, [VALID, garbage, unsupported])

    output = transform.engagement_counts(records)

    rejected = output.where(F.col("grain") == transform.REJECTED)
    assert sorted(
        (r.post_id, r.community_id, r.window_start, bytes(r.raw_key), bytes(r.raw_value), r.error)
        for r in rejected.collect()
    ) == [
        (0, 1, naive(at(7200)), b"k", garbage, "not a JSON object"),
        (0, 2, naive(at(7200)), b"k", unsupported, "unsupported schema_version 3"),
    ]  # partition, offset, Kafka time
    # Only the valid message counts; rejected ones leave no trace in the buckets.
    buckets = output.where(F.col("grain") != transform.REJECTED)
    assert buckets.agg(F.sum("likes")).first()[0] == 6  # one like x 3 grains x post, community
    assert buckets.where(F.col("raw_value").isNotNull()).count() == 0


def test_a_rejected_message_does_not_move_the_watermark_or_count_as_late(spark):
    far_future = event("post_viewed", seconds=24 * 3600)  # rejected: past the clock skew
    records = kafka_frame(spark, [far_future, event("post_viewed")])

    shaped = transform.messages_in_one_shape(transform.parse_envelopes(records))

    rows = {r.offset: r for r in shaped.collect()}
    assert rows[0].error.startswith("occurred_at is more than")
    assert (rows[0].event_time, rows[0].event_type, rows[0].event_id) == (
        None,
        None,
        "rejected:0:0",
    )
    assert rows[1].error is None and rows[1].event_time == naive(at(0))


def test_duplicates_of_an_event_id_count_once(spark):
    same = uuid.uuid4()
    records = kafka_frame(
        spark,
        [
            event("post_viewed", event_id=same),
            event("post_viewed", event_id=same),
            event("post_viewed", seconds=5),
        ],
    )

    counts = transform.engagement_counts(records)

    views = {"views": 2, "actors": 1, "score": Decimal("0.2")}
    for grain, start in (("window", 0), ("hour", 0), ("day", -12 * 3600)):
        assert buckets_of(counts, grain) == {(start, 100): views, (start, 0): views}


def test_counts_and_distinct_actors_per_post_and_community(spark):
    records = kafka_frame(
        spark,
        [
            event("post_viewed", actor_id=1),
            event("post_viewed", actor_id=1, seconds=1),
            event("post_liked", actor_id=1, seconds=2),
            event("post_unliked", actor_id=1, seconds=3),
            event("comment_created", actor_id=2, seconds=4),
            event("post_shared", actor_id=2, seconds=5),
            event("post_viewed", actor_id=2, post_id=101, seconds=6),
            event("post_created", actor_id=3, post_id=102, seconds=7),
            event("community_joined", actor_id=4, seconds=8),
            event("community_left", actor_id=4, seconds=9),
            event("community_created", actor_id=5, seconds=10),
            event("post_deleted", actor_id=3, post_id=102, seconds=11),
        ],
    )

    counts = transform.engagement_counts(records)

    assert buckets_of(counts) == {
        (0, 100): {"views": 2, "likes": 1, "unlikes": 1, "comments": 1, "shares": 1,
                   "actors": 2, "score": Decimal("5.2")},
        (0, 101): {"views": 1, "actors": 1, "score": Decimal("0.1")},
        # The community: its posts' engagement, plus posts created, joins and leaves, by
        # actors 1-4 (creating the community and deleting a post are not counted).
        (0, 0): {"views": 3, "likes": 1, "unlikes": 1, "comments": 1, "shares": 1,
                 "posts_created": 1, "members_joined": 1, "members_left": 1,
                 "actors": 4, "score": Decimal("5.3")},
    }  # fmt: skip


def test_window_boundaries_are_start_inclusive_end_exclusive(spark):
    records = kafka_frame(
        spark,
        [
            event("post_viewed", seconds=0),
            event("post_viewed", seconds=59.999),
            event("post_viewed", seconds=60),
            event("post_viewed", seconds=119.999),
            event("post_viewed", seconds=3600),
        ],
    )

    counts = transform.engagement_counts(records)

    def views(grain: str) -> dict:
        return {key: v["views"] for key, v in buckets_of(counts, grain).items() if key[1]}

    assert views("window") == {(0, 100): 2, (60, 100): 2, (3600, 100): 1}
    assert views("hour") == {(0, 100): 4, (3600, 100): 1}
    assert views("day") == {(-12 * 3600, 100): 5}
    ends = {(r.grain, r.window_end - r.window_start) for r in counts.collect()}
    assert ends == {
        ("window", timedelta(minutes=1)),
        ("hour", timedelta(hours=1)),
        ("day", timedelta(days=1)),
    }


def test_a_longer_window_is_configurable(spark):
    records = kafka_frame(spark, [event("post_viewed", seconds=s) for s in (0, 299, 300)])

    counts = transform.engagement_counts(records, window="5 minutes")

    assert [
        (r.window_start, r.window_end, r.views)
        for r in counts.where("grain = 'window' AND post_id = 100")
        .orderBy("window_start")
        .collect()
    ] == [
        (naive(at(0)), naive(at(300)), 2),
        (naive(at(300)), naive(at(600)), 1),
    ]


def test_distinct_actors_are_estimated_within_two_percent_and_sketches_union(spark):
    actors = range(1, 20_001)
    records = kafka_frame(
        spark,
        [event("post_viewed", actor_id=a, seconds=(a % 120) * 60) for a in actors]
        + [event("post_liked", actor_id=a, seconds=30) for a in range(1, 501)],
    )

    counts = transform.engagement_counts(records)

    (day,) = counts.where("grain = 'day' AND post_id = 100").collect()
    assert abs(day.distinct_actors - 20_000) <= 0.02 * 20_000
    # Small sets are kept exactly: minute 0 holds the viewers with a % 120 == 0 and the likers.
    first_minute = {a for a in actors if a % 120 == 0} | set(range(1, 501))
    (minute,) = counts.where(
        f"grain = 'window' AND post_id = 100 AND window_start = '{naive(at(0))}'"
    ).collect()
    assert minute.distinct_actors == len(first_minute)
    # The hours' sketches union to the day's count (within the error): readers can combine
    # buckets, each actor counted once.
    union = hll_union(contract.HLL_LG_K)
    for hour in counts.where("grain = 'hour' AND post_id = 100").collect():
        union.update(hll_sketch.deserialize(bytes(hour.actors_sketch)))
    assert abs(union.get_estimate() - 20_000) <= 0.02 * 20_000


def test_engagement_score_weights_views_likes_comments_shares(spark):
    frame = spark.createDataFrame(
        [(10, 3, 1, 2, 1)], "views long, likes long, unlikes long, comments long, shares long"
    )

    scored = transform.with_engagement_score(frame)

    # 0.1*10 + (3 - 1) + 2*2 + 3*1
    assert scored.select("net_likes", "engagement_score").first() == Row(
        net_likes=2, engagement_score=Decimal("10.0")
    )


def test_the_stream_drops_late_events_and_redeliveries_across_batches(spark, tmp_path: Path):
    """Batch 1 moves the watermark to 12:20 - 10 min = 12:10. In batch 2 an event at 12:05 is
    late (dropped), one at 12:12 still counts, and a redelivered event from batch 1 (same
    event_id) is dropped by the dedupe state. Each batch emits the touched buckets' current
    values (update mode)."""
    source = tmp_path / "in"
    source.mkdir()
    redelivered = event("post_viewed", seconds=15 * 60, actor_id=2)
    batches = [
        [event("post_viewed", seconds=30), redelivered, event("post_viewed", seconds=20 * 60)],
        [
            redelivered,
            event("post_viewed", seconds=5 * 60 + 1, actor_id=3),
            event("post_viewed", seconds=12 * 60, actor_id=4),
        ],
    ]
    records = (
        spark.readStream.format("text")
        .option("maxFilesPerTrigger", 1)
        .load(str(source))
        .select(
            F.lit(None).cast("binary").alias("key"),
            F.col("value").cast("binary").alias("value"),
            F.lit("test.events").alias("topic"),
            F.lit(0).alias("partition"),
            F.lit(0).cast("long").alias("offset"),
            F.lit(None).cast("timestamp").alias("timestamp"),
        )
    )
    emitted: dict[tuple, int] = {}

    def collect(batch_df: DataFrame, _batch_id: int) -> None:
        for row in batch_df.where("post_id <> 0").collect():
            emitted[(row.grain, row.window_start)] = (row.views, row.distinct_actors)

    query = (
        transform.engagement_counts(records)
        .writeStream.outputMode("update")
        .foreachBatch(collect)
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .start()
    )
    try:
        for number, envelopes in enumerate(batches):
            (source / f"{number}.json").write_text("\n".join(json.dumps(e) for e in envelopes))
            query.processAllAvailable()
    finally:
        query.stop()

    # The late event (actor 3) and the redelivery are not counted anywhere; the hour and the
    # day hold the four counted views by actors 1, 2 and 4, as their state saw them last.
    assert emitted == {
        ("window", naive(at(0))): (1, 1),
        ("window", naive(at(15 * 60))): (1, 1),
        ("window", naive(at(20 * 60))): (1, 1),
        ("window", naive(at(12 * 60))): (1, 1),
        ("hour", naive(at(0))): (4, 3),
        ("day", naive(at(-12 * 3600))): (4, 3),
    }


def assert_rows(actual: DataFrame, expected: DataFrame) -> None:
    assertDataFrameEqual(actual, expected, checkRowOrder=False)
