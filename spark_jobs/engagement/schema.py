"""The event envelope v1 as the Spark job sees it.

The envelope's contract is `events/schemas/event_envelope.v1.json`; the Spark reading of it
is below (tests/test_contract.py keeps the two in step). Event types and the counter each
one adds to come from `spark_jobs.contract`, shared with Django."""

from __future__ import annotations

from pyspark.sql import types as T

ENVELOPE_FIELDS = (
    "event_id",
    "event_type",
    "schema_version",
    "occurred_at",
    "actor_id",
    "community_id",
    "post_id",
    "payload",
)

CORRUPT_RECORD = "_corrupt_record"

ENVELOPE_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("event_type", T.StringType()),
        T.StructField("schema_version", T.LongType()),
        T.StructField("occurred_at", T.StringType()),
        T.StructField("actor_id", T.LongType()),
        T.StructField("community_id", T.LongType()),
        T.StructField("post_id", T.LongType()),
        # An object arrives as its JSON text, anything else as a bare string: see validation.
        T.StructField("payload", T.StringType()),
        T.StructField(CORRUPT_RECORD, T.StringType()),
    ]
)

INTEGER_FIELDS = ("schema_version", "actor_id", "community_id", "post_id")

EVENT_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
OCCURRED_AT_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
OCCURRED_AT_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSX"

KAFKA_RECORD_SCHEMA = T.StructType(
    [
        T.StructField("key", T.BinaryType()),
        T.StructField("value", T.BinaryType()),
        T.StructField("topic", T.StringType()),
        T.StructField("partition", T.IntegerType()),
        T.StructField("offset", T.LongType()),
        T.StructField("timestamp", T.TimestampType()),
        T.StructField("timestampType", T.IntegerType()),
    ]
)
