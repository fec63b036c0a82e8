"""Pure DataFrame -> DataFrame steps of the engagement job.

records (Kafka rows) -> parse_envelopes -> messages_in_one_shape -> deduplicate_events
-> bucket_counts (per post and community: window, hour and day counts, distinct actors,
engagement score; and the rejected messages, for the dead-letter table). Each message is
read and parsed once.

Every function works on static and streaming DataFrames alike, so tests feed them small
`spark.createDataFrame(...)` frames and the job feeds them the Kafka stream."""

from __future__ import annotations

import re
from decimal import Decimal

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.contract import (
    COMMUNITY_COUNTS,
    COMMUNITY_EVENT_TYPES,
    COUNT_COLUMNS,
    EVENT_TYPES,
    GRAIN_DAY,
    GRAIN_HOUR,
    GRAIN_WINDOW,
    HLL_LG_K,
    POST_COUNTS,
    POST_EVENT_TYPES,
    SCHEMA_VERSION,
    SCORE_WEIGHTS,
)
from spark_jobs.engagement.schema import (
    CORRUPT_RECORD,
    ENVELOPE_FIELDS,
    ENVELOPE_SCHEMA,
    EVENT_ID_PATTERN,
    INTEGER_FIELDS,
    OCCURRED_AT_FORMAT,
    OCCURRED_AT_PATTERN,
)

DEFAULT_WINDOW = "1 minute"
DEFAULT_WATERMARK = "10 minutes"
DEFAULT_MAX_CLOCK_SKEW = "5 minutes"

SCORE_TYPE = "decimal(14,1)"

BUCKET_COLUMNS = (
    "post_id",
    "community_id",
    "grain",
    "window_start",
    "window_end",
    *COUNT_COLUMNS,
    "net_likes",
    "distinct_actors",
    "actors_sketch",
    "engagement_score",
)
# The aggregation's grain for a rejected message (see messages_in_one_shape, bucket_counts).
REJECTED = "rejected"
REJECTED_COLUMNS = ("raw_key", "raw_value", "error")
INTERVAL_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
# The column metadata key Spark's withWatermark puts on the event-time column
# (EventTimeWatermark.delayKey): a grouping key that carries it is evicted from the
# aggregation's state once the watermark passes the key's value.
WATERMARK_DELAY_KEY = "spark.watermarkDelayMs"


def parse_envelopes(
    records: DataFrame, *, max_clock_skew: str = DEFAULT_MAX_CLOCK_SKEW
) -> DataFrame:
    """Kafka rows (key, value, topic, partition, offset, timestamp) -> one row per message
    with the envelope fields, `event_time` and `error` (null when the message is a valid v1
    envelope, else the first rule it breaks).

    Beyond the JSON schema, an `occurred_at` more than `max_clock_skew` after the Kafka
    timestamp is rejected: one event from the far future would move the watermark past
    every real event and silently drop them all as late."""
    text = F.col("value").cast("string")
    parsed = F.from_json(
        text,
        ENVELOPE_SCHEMA,
        {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD},
    )
    frame = records.select(
        "topic",
        "partition",
        "offset",
        F.col("timestamp").alias("kafka_timestamp"),
        F.col("key").alias("raw_key"),
        F.col("value").alias("raw_value"),
        text.alias("_text"),
        F.json_object_keys(text).alias("_keys"),
        parsed.alias("_envelope"),
    )
    fields = {name: F.col(f"_envelope.{name}") for name in ENVELOPE_SCHEMA.fieldNames()}
    event_time = F.try_to_timestamp(fields["occurred_at"], F.lit(OCCURRED_AT_FORMAT))
    frame = frame.withColumn("event_time", event_time)
    error = _first_error(
        fields, F.col("_text"), F.col("_keys"), F.col("event_time"), max_clock_skew
    )
    return frame.select(
        "topic",
        "partition",
        "offset",
        "kafka_timestamp",
        "raw_key",
        "raw_value",
        *(fields[name].alias(name) for name in ENVELOPE_FIELDS),
        "event_time",
        F.substring(error, 1, 255).alias("error"),
    )


def _first_error(
    fields: dict[str, Column], text: Column, keys: Column, event_time: Column, skew: str
) -> Column:
    required = F.array(*(F.lit(name) for name in ENVELOPE_FIELDS))
    missing = F.array_except(required, keys)
    unexpected = F.array_except(keys, required)
    event_type = fields["event_type"]
    post_id = fields["post_id"]

    def is_false(condition: Column) -> Column:
        return ~F.coalesce(condition, F.lit(False))

    # The usual case, exactly the eight fields once each, is one comparison; the array work
    # that names what is wrong runs only for the messages that fail it (`&` short-circuits).
    keys_wrong = ~F.coalesce(
        F.array_sort(keys) == F.array(*(F.lit(name) for name in sorted(ENVELOPE_FIELDS))),
        F.lit(False),
    )
    checks: list[tuple[Column, Column]] = [
        (text.isNull() | (F.trim(text) == ""), F.lit("empty message")),
        (keys.isNull(), F.lit("not a JSON object")),
        (
            keys_wrong & (F.size(keys) != F.size(F.array_distinct(keys))),
            F.lit("duplicate field"),
        ),
        (
            keys_wrong & (F.size(missing) > 0),
            F.concat(F.lit("missing field(s): "), F.array_join(missing, ", ")),
        ),
        (
            keys_wrong & (F.size(unexpected) > 0),
            F.concat(F.lit("unexpected field(s): "), F.array_join(unexpected, ", ")),
        ),
    ]
    checks += [
        (
            fields[name].isNull() & F.get_json_object(text, f"$.{name}").isNotNull(),
            F.lit(f"{name} must be an integer"),
        )
        for name in INTEGER_FIELDS
    ]
    checks += [
        (
            is_false(fields["schema_version"] == SCHEMA_VERSION),
            F.concat(
                F.lit("unsupported schema_version "),
                F.coalesce(fields["schema_version"].cast("string"), F.lit("null")),
            ),
        ),
        (is_false(fields["event_id"].rlike(EVENT_ID_PATTERN)), F.lit("event_id is not a UUID")),
        (
            is_false(event_type.isin(*EVENT_TYPES)),
            F.concat(F.lit("unknown event_type "), F.coalesce(event_type, F.lit("null"))),
        ),
        (
            is_false(fields["occurred_at"].rlike(OCCURRED_AT_PATTERN) & event_time.isNotNull()),
            F.lit("occurred_at is not a UTC ISO-8601 time with milliseconds"),
        ),
        (is_false(fields["actor_id"] >= 1), F.lit("actor_id must be >= 1")),
        (is_false(fields["community_id"] >= 1), F.lit("community_id must be >= 1")),
        (F.coalesce(post_id < 1, F.lit(False)), F.lit("post_id must be >= 1")),
        (
            event_type.isin(*POST_EVENT_TYPES) & post_id.isNull(),
            F.concat(F.lit("post_id is required for "), event_type),
        ),
        (
            event_type.isin(*COMMUNITY_EVENT_TYPES) & post_id.isNotNull(),
            F.concat(F.lit("post_id must be null for "), event_type),
        ),
        (is_false(fields["payload"].startswith("{")), F.lit("payload must be an object")),
        (
            F.coalesce(
                event_time > F.col("kafka_timestamp") + F.expr(f"INTERVAL {skew}"), F.lit(False)
            ),
            F.lit(f"occurred_at is more than {skew} after the Kafka timestamp"),
        ),
        (fields[CORRUPT_RECORD].isNotNull(), F.lit("does not match the envelope schema")),
    ]
    return F.coalesce(*(F.when(condition, message) for condition, message in checks))


def messages_in_one_shape(parsed: DataFrame) -> DataFrame:
    """Valid events and rejected messages in one shape, so that every message is read and
    parsed once: a valid event keeps its id, type, time and ids; a rejected message takes
    its Kafka position as its id ("rejected:<partition>:<offset>") and keeps its raw bytes
    and error, with no event time (so it neither moves the watermark, as a far-future time
    would, nor counts as late) and no type (so it counts nowhere)."""
    valid = F.col("error").isNull()

    def if_valid(column: str) -> Column:
        return F.when(valid, F.col(column)).alias(column)

    def if_rejected(column: str) -> Column:
        return F.when(~valid, F.col(column)).alias(column)

    rejected_id = F.concat_ws(":", F.lit(REJECTED), "partition", "offset")
    return parsed.select(
        F.when(valid, F.col("event_id")).otherwise(rejected_id).alias("event_id"),
        *(if_valid(c) for c in ("event_type", "event_time", "actor_id", "community_id", "post_id")),
        "partition",
        "offset",
        "kafka_timestamp",
        *(if_rejected(c) for c in ("raw_key", "raw_value", "error")),
    )


def deduplicate_events(events: DataFrame, *, watermark: str = DEFAULT_WATERMARK) -> DataFrame:
    """Drop repeated deliveries of the same event_id (the outbox publishes at least once).

    On a stream this also sets the event-time watermark (max event_time seen minus
    `watermark`) that every later stateful step uses: an event_id is remembered until the
    watermark passes its event_time plus the delay, so a redelivery up to `watermark` after
    the first copy is still caught, and events older than the watermark are dropped as late.
    Rows without an event time (rejected messages) pass and leave the state at once.
    A static frame has no watermark and keeps one row per event_id."""
    if events.isStreaming:
        return events.withWatermark("event_time", watermark).dropDuplicatesWithinWatermark(
            ["event_id"]
        )
    return events.dropDuplicates(["event_id"])


def interval_seconds(text: str) -> int:
    """Seconds in a Spark interval string such as '1 minute' or '10 minutes'."""
    match = re.fullmatch(r"\s*(\d+)\s+(second|minute|hour|day)s?\s*", text)
    if not match:
        raise ValueError(f"not an interval like '1 minute': {text!r}")
    return int(match.group(1)) * INTERVAL_UNITS[match.group(2)]


def _targets(window: str) -> Column:
    """Where a message counts, as (grain, start, end, post_id, community_id) structs: a post
    engagement event in its post's and its community's window, hour and day; posts created,
    joins and leaves in the community's three; a rejected message in a group of its own,
    keyed by its Kafka position and time; anything else nowhere."""
    # Tumbling windows by arithmetic rather than F.window, which would drop the rows without an
    # event time (the rejected messages) from the whole plan.
    length = interval_seconds(window)
    window_start = F.timestamp_seconds(F.floor(F.unix_seconds("event_time") / length) * length)
    hour, day = F.date_trunc("hour", "event_time"), F.date_trunc("day", "event_time")
    spans = (
        (GRAIN_WINDOW, window_start, window_start + F.expr(f"INTERVAL {length} SECONDS")),
        (GRAIN_HOUR, hour, hour + F.expr("INTERVAL 1 HOUR")),
        (GRAIN_DAY, day, day + F.expr("INTERVAL 1 DAY")),
    )

    def target(grain: str, start: Column, end: Column, post_id: Column) -> Column:
        return F.struct(
            F.lit(grain).alias("grain"),
            start.alias("start"),
            end.alias("end"),
            post_id.cast("long").alias("post_id"),
            F.col("community_id").cast("long").alias("community_id"),
        )

    community = [target(g, start, end, F.lit(0)) for g, start, end in spans]
    post = [target(g, start, end, F.col("post_id")) for g, start, end in spans]
    rejected = F.struct(
        F.lit(REJECTED).alias("grain"),
        F.col("kafka_timestamp").alias("start"),
        F.col("kafka_timestamp").alias("end"),
        F.col("partition").cast("long").alias("post_id"),
        F.col("offset").alias("community_id"),
    )
    return (
        F.when(F.col("event_type").isin(*POST_COUNTS), F.array(*post, *community))
        .when(F.col("event_type").isin(*COMMUNITY_COUNTS), F.array(*community))
        .when(F.col("error").isNotNull(), F.array(rejected))
    )  # null (exploding into nothing) for the valid types that count nowhere


def bucket_counts(
    messages: DataFrame, *, window: str = DEFAULT_WINDOW, watermark: str = DEFAULT_WATERMARK
) -> DataFrame:
    """Per post and per community, in each stream window, hour and day: the counts, net
    likes, distinct actors (a HyperLogLog sketch and its estimate) and the engagement score;
    and each rejected message as a one-row group of grain `rejected` (post_id = its
    partition, community_id = its offset, window_start = its Kafka time, with its raw key,
    value and error), so that the sink gets both from one pass over the topic.

    On a stream this is one stateful aggregation: each bucket's counts and sketch live in
    Spark's state, every micro-batch emits the complete current values of the groups it
    touched (update mode), so the sink sets rows and never adds. A group's state is dropped
    once the watermark passes its end (`window_end` carries the watermark's delay for that:
    a day is kept until the watermark leaves it, a minute for a few minutes, a rejected
    message as soon as the watermark passes its Kafka time), so state stays bounded."""
    delay = {WATERMARK_DELAY_KEY: interval_seconds(watermark) * 1000}
    rows = messages.select(
        "event_type", "actor_id", *REJECTED_COLUMNS, F.explode(_targets(window)).alias("target")
    )
    counts = [
        F.count_if(F.col("event_type") == event_type).alias(column)
        for event_type, column in {**POST_COUNTS, **COMMUNITY_COUNTS}.items()
    ]
    grouped = rows.groupBy(
        F.col("target.end").alias("window_end", metadata=delay),
        F.col("target.grain").alias("grain"),
        F.col("target.start").alias("window_start"),
        F.col("target.post_id").alias("post_id"),
        F.col("target.community_id").alias("community_id"),
    ).agg(
        *counts,
        F.hll_sketch_agg("actor_id", HLL_LG_K).alias("actors_sketch"),
        *(F.first(c, ignorenulls=True).alias(c) for c in REJECTED_COLUMNS),
    )
    with_distinct = grouped.withColumn(
        "distinct_actors", F.hll_sketch_estimate("actors_sketch").cast("int")
    )
    return with_engagement_score(with_distinct).select(*BUCKET_COLUMNS, *REJECTED_COLUMNS)


def with_engagement_score(counts: DataFrame) -> DataFrame:
    """Add `net_likes` (likes - unlikes) and `engagement_score` (weights:
    `spark_jobs.contract.SCORE_WEIGHTS`)."""
    with_net = counts.withColumn("net_likes", F.col("likes") - F.col("unlikes"))
    score = sum(
        (F.col(column) * F.lit(weight) for column, weight in SCORE_WEIGHTS.items()),
        F.lit(Decimal("0.0")),
    )
    return with_net.withColumn("engagement_score", score.cast(SCORE_TYPE))


def engagement_counts(
    records: DataFrame,
    *,
    window: str = DEFAULT_WINDOW,
    watermark: str = DEFAULT_WATERMARK,
    max_clock_skew: str = DEFAULT_MAX_CLOCK_SKEW,
) -> DataFrame:
    """The whole job: Kafka rows -> the buckets' current counts and the rejected messages,
    each message read and parsed once."""
    messages = messages_in_one_shape(parse_envelopes(records, max_clock_skew=max_clock_skew))
    deduplicated = deduplicate_events(messages, watermark=watermark)
    return bucket_counts(deduplicated, window=window, watermark=watermark)
