"""The contract between Django and the Spark jobs, in one Django-free module.

Django owns the tables (its migrations create them); the Spark jobs read and write them from
outside Django. Both sides import the names below instead of restating them: the models take
their `db_table` from here, the sinks and sources their table names, the event counters and
the score weights; the database address is parsed by one function for the app, the jobs, the
benchmarks and the tests. Nothing here imports Django or Spark."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote, urlsplit


class Tables:
    """Tables the Spark jobs read or write, by the name Django gives them (`db_table`)."""

    OUTBOX = "analytics_outboxevent"
    POST_ENGAGEMENT = "analytics_post_engagement"
    COMMUNITY_ENGAGEMENT = "analytics_community_engagement"
    ENGAGEMENT_STAGING = "analytics_engagement_staging"
    DEAD_LETTER = "analytics_engagement_dead_letter"
    SPARK_BATCH = "analytics_spark_batch"
    MODEL_RUN = "analytics_model_run"
    PREDICTION_RUN = "analytics_prediction_run"
    TREND_PREDICTION = "analytics_trend_prediction"
    COMMUNITY_TREND = "analytics_community_trend"
    POSTS = "posts_post"


class Queries:
    """Streaming query names: the ledger (`Tables.SPARK_BATCH`) keys batches by them, and the
    job runner names its pid files after the job. (Ledger rows of the former
    `engagement_dead_letters` query may remain; dead letters now come from `engagement`.)"""

    METRICS = "engagement"


# --- events --------------------------------------------------------------------------------

SCHEMA_VERSION = 1
COMMUNITY_EVENT_TYPES = ("community_created", "community_joined", "community_left")
POST_EVENT_TYPES = (
    "post_created",
    "post_deleted",
    "post_viewed",
    "post_liked",
    "post_unliked",
    "comment_created",
    "post_shared",
)
EVENT_TYPES = COMMUNITY_EVENT_TYPES + POST_EVENT_TYPES

# Event type -> the counter it adds one to. Post engagement counts go to the post's row; the
# others are community-level activity. Types not listed (community_created, post_deleted)
# are valid but not counted.
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

# Engagement score = 0.1*views + 1*net_likes + 2*comments + 3*shares.
# The weights follow the effort an action costs and the reach it adds: a view is passive
# and repeats (ten views weigh one like), a like is a one-click endorsement (an unlike takes
# it back, hence net likes), a comment costs writing and starts conversation, and a share
# puts the post in front of a new audience. The score is linear, so the score of a post or
# community is the sum of its actors' scores, at every grain.
SCORE_WEIGHTS: dict[str, Decimal] = {
    "views": Decimal("0.1"),
    "net_likes": Decimal("1"),
    "comments": Decimal("2"),
    "shares": Decimal("3"),
}


# Time buckets of the engagement tables: the stream window (1 minute unless the job runs with
# another --window), and the hour and day that contain it.
GRAIN_WINDOW, GRAIN_HOUR, GRAIN_DAY = "window", "hour", "day"
GRAINS = (GRAIN_WINDOW, GRAIN_HOUR, GRAIN_DAY)

# Distinct actors are counted with HyperLogLog sketches (Apache DataSketches, the format of
# Spark's hll_sketch_agg), one per row: 2^14 buckets give a relative standard error of
# 1.04 / sqrt(2^14) = 0.8%; below ~1,500 actors the sketch keeps the exact set of hashes, so
# small counts are exact. The sketches are stored beside the estimate so that readers can
# union them (a post's distinct actors over a week, active users over 24 hours).
HLL_LG_K = 14


def score_formula() -> str:
    """The score as people read it, e.g. in API docs: '0.1·views + net likes + …'."""
    terms = []
    for column, weight in SCORE_WEIGHTS.items():
        name = column.replace("_", " ")
        terms.append(name if weight == 1 else f"{weight.normalize()}·{name}")
    return " + ".join(terms)


# --- where the local stack listens --------------------------------------------------------
# infra/stack.sh starts MariaDB, Redis and Kafka on these ports; STREAMER_*_PORT moves them
# (a second stack beside the first), and every default address below follows.


def local_port(service: str, default: int) -> int:
    return int(os.environ.get(f"STREAMER_{service}_PORT", default))


def local_redis_url(db: int, scheme: str = "redis") -> str:
    return f"{scheme}://127.0.0.1:{local_port('REDIS', 6380)}/{db}"


def local_kafka_bootstrap() -> str:
    return f"127.0.0.1:{local_port('KAFKA', 9092)}"


# --- the database --------------------------------------------------------------------------

DEFAULT_DATABASE_URL = f"mysql://streamer:streamer@127.0.0.1:{local_port('DB', 3307)}/streamer"
MYSQL_SCHEMES = frozenset({"mysql", "mysql2", "mariadb", "mysqlgis"})


@dataclass(frozen=True)
class DatabaseAddress:
    """Where the MariaDB/MySQL database is: parsed from a `DATABASE_URL`, or taken from a
    Django `DATABASES` entry, and turned back into a URL for a child process."""

    host: str
    port: int
    user: str
    password: str
    name: str

    @classmethod
    def from_url(cls, url: str) -> DatabaseAddress:
        parts = urlsplit(url)
        if parts.scheme not in MYSQL_SCHEMES:
            raise ValueError(f"DATABASE_URL must be a mysql:// URL, got {parts.scheme}://")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            name=parts.path.lstrip("/"),
        )

    @classmethod
    def from_django(cls, database: Mapping[str, Any]) -> DatabaseAddress:
        """From one entry of Django's DATABASES (e.g. the test database pytest set up)."""
        return cls(
            host=database.get("HOST") or "127.0.0.1",
            port=int(database.get("PORT") or 3306),
            user=database.get("USER") or "",
            password=database.get("PASSWORD") or "",
            name=database["NAME"],
        )

    @property
    def url(self) -> str:
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        return f"mysql://{user}:{password}@{self.host}:{self.port}/{self.name}"

    def with_name(self, name: str) -> DatabaseAddress:
        return DatabaseAddress(self.host, self.port, self.user, self.password, name)


def database_url() -> str:
    """DATABASE_URL from the environment, with the same default as Django's settings."""
    return os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


def database_address(url: str | None = None) -> DatabaseAddress:
    return DatabaseAddress.from_url(url or database_url())
