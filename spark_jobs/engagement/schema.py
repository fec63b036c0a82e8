"""The event envelope v1 as the Spark job sees it.

The contract lives in `analytics/schemas/event_envelope.v1.json`; these constants restate it
for Spark (a test keeps them in step with the file)."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA_VERSION = 1

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

POST_EVENT_TYPES = (
    "post_created",
    "post_deleted",
    "post_viewed",
    "post_liked",
    "post_unliked",
    "comment_created",
    "post_shared",
)
COMMUNITY_EVENT_TYPES = ("community_created", "community_joined", "community_left")
EVENT_TYPES = COMMUNITY_EVENT_TYPES + POST_EVENT_TYPES

EVENT_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
OCCURRED_AT_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
OCCURRED_AT_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSX"

# Event type -> count column. Post engagement counts go to the post's row; the others are
# community-level activity (post_id 0 in the actor rows). Types not listed here
# (community_created, post_deleted) are valid but not counted.
POST_COUNTS = {
    "post_viewed": "views",
    "post_liked": "likes",
    "post_unliked": "unlikes",
    "comment_created": "comments",
    "post_shared": "shares",
}
COMMUNITY_COUNTS = {
    "post_created": "posts_created",
    "community_joined": "members_joined",
    "community_left": "members_left",
}
COUNT_COLUMNS = tuple(POST_COUNTS.values()) + tuple(COMMUNITY_COUNTS.values())

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
