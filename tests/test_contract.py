"""Django and the Spark jobs read the same contract (spark_jobs/contract.py): the tables the
models own, the envelope's shape and types, the counters and their columns."""

from analytics import models as analytics_models
from events.envelope import EventType, envelope_build, envelope_schema, envelope_validate
from events.models import OutboxEvent
from posts.models import Post
from spark_jobs import contract
from spark_jobs.contract import DatabaseAddress, Tables
from spark_jobs.engagement import schema


def test_the_models_own_the_tables_the_jobs_use():
    owners = {
        Tables.OUTBOX: OutboxEvent,
        Tables.POST_ENGAGEMENT: analytics_models.PostEngagement,
        Tables.COMMUNITY_ENGAGEMENT: analytics_models.CommunityEngagement,
        Tables.ENGAGEMENT_STAGING: analytics_models.EngagementStaging,
        Tables.DEAD_LETTER: analytics_models.EngagementDeadLetter,
        Tables.SPARK_BATCH: analytics_models.SparkBatch,
        Tables.MODEL_RUN: analytics_models.ModelRun,
        Tables.PREDICTION_RUN: analytics_models.PredictionRun,
        Tables.TREND_PREDICTION: analytics_models.TrendPrediction,
        Tables.COMMUNITY_TREND: analytics_models.CommunityTrend,
        Tables.POSTS: Post,
    }
    assert {table: model._meta.db_table for table, model in owners.items()} == {
        table: table for table in owners
    }
    assert set(owners) == {value for name, value in vars(Tables).items() if name.isupper()}


def test_every_counter_is_a_column_of_the_community_rows():
    columns = {field.name for field in analytics_models.CommunityEngagement._meta.fields}
    assert set(contract.COUNT_COLUMNS) <= columns
    assert set(contract.SCORE_WEIGHTS) <= columns


def test_the_spark_reading_of_the_envelope_follows_the_json_schema():
    json_schema = envelope_schema()

    assert tuple(json_schema["required"]) == schema.ENVELOPE_FIELDS
    assert set(json_schema["properties"]["event_type"]["enum"]) == set(contract.EVENT_TYPES)
    assert set(EventType.ALL) == set(contract.EVENT_TYPES)
    assert json_schema["properties"]["occurred_at"]["pattern"] == schema.OCCURRED_AT_PATTERN
    assert json_schema["properties"]["event_id"]["pattern"] == schema.EVENT_ID_PATTERN
    post_types = json_schema["allOf"][0]["if"]["properties"]["event_type"]["enum"]
    assert set(post_types) == set(contract.POST_EVENT_TYPES)
    assert json_schema["properties"]["schema_version"]["const"] == contract.SCHEMA_VERSION


def test_the_builder_makes_envelopes_the_contract_accepts():
    for event_type in contract.EVENT_TYPES:
        post_id = None if event_type in contract.COMMUNITY_EVENT_TYPES else 9
        envelope = envelope_build(
            event_type=event_type, actor_id=1, community_id=2, post_id=post_id
        )
        envelope_validate(envelope)
        assert envelope["schema_version"] == contract.SCHEMA_VERSION


def test_one_database_address_parser_for_url_and_django_settings():
    address = DatabaseAddress.from_url("mysql://app:p%40ss@db.example:3310/streamer")
    assert address == DatabaseAddress("db.example", 3310, "app", "p@ss", "streamer")
    assert DatabaseAddress.from_url(address.url) == address
    django_entry = {"HOST": "db.example", "PORT": "3310", "USER": "app", "PASSWORD": "p@ss",
                    "NAME": "streamer"}  # fmt: skip
    assert DatabaseAddress.from_django(django_entry) == address
