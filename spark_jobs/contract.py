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


class SparkApps:
    """Spark application names the jobs give their sessions; the pipeline health finds the
    streaming job among a standalone master's applications by its name."""

    ENGAGEMENT = "streamer-engagement"
    TRENDS_TRAIN = "streamer-trends-train"
    TRENDS_PREDICT = "streamer-trends-predict"


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
# infra/stack.sh starts MariaDB, Redis and Kafka (and, in the cluster topology, a Spark
# standalone cluster) on these ports; STREAMER_*_PORT moves them (a second stack beside the
# first), and every default address below follows. STREAMER_TOPOLOGY picks the topology:
# `single` (one Kafka broker, Spark jobs in local mode) or `cluster` (three KRaft nodes on
# STREAMER_KAFKA_PORT + 0/2/4, a Spark master on STREAMER_SPARK_PORT with its web UI one
# port above). `infra/stack.sh addresses` prints the same addresses from the script's side,
# and tests/test_cluster.py checks that both agree.

TOPOLOGIES = ("single", "cluster")
KAFKA_CLUSTER_NODES = 3


def local_port(service: str, default: int) -> int:
    return int(os.environ.get(f"STREAMER_{service}_PORT", default))


def local_topology() -> str:
    topology = os.environ.get("STREAMER_TOPOLOGY", "single")
    if topology not in TOPOLOGIES:
        raise ValueError(f"STREAMER_TOPOLOGY is one of {', '.join(TOPOLOGIES)}, not {topology!r}")
    return topology


def local_redis_url(db: int, scheme: str = "redis") -> str:
    return f"{scheme}://127.0.0.1:{local_port('REDIS', 6380)}/{db}"


def local_kafka_bootstrap() -> str:
    """Comma-separated broker addresses: one broker, or the cluster's three nodes (each node
    takes two ports, its broker's and its controller's)."""
    first = local_port("KAFKA", 9092)
    nodes = KAFKA_CLUSTER_NODES if local_topology() == "cluster" else 1
    return ",".join(f"127.0.0.1:{first + 2 * n}" for n in range(nodes))


@dataclass(frozen=True)
class TopicLayout:
    """How the events topic is laid out: partitions, copies of each, and how many copies
    must have a write before an acks=all producer is answered."""

    partitions: int
    replication_factor: int
    min_insync_replicas: int


def local_events_topic() -> TopicLayout:
    """One broker holds one copy; the three-node cluster keeps three and needs two for a
    write, so one node can be down without losing or refusing a write."""
    if local_topology() == "cluster":
        return TopicLayout(partitions=6, replication_factor=3, min_insync_replicas=2)
    return TopicLayout(partitions=3, replication_factor=1, min_insync_replicas=1)


def local_spark_master() -> str:
    if local_topology() == "cluster":
        return f"spark://127.0.0.1:{local_port('SPARK', 7077)}"
    return "local[*]"


def local_spark_master_ui() -> str:
    """The standalone master's web UI (its /json/ lists workers and applications); empty in
    the single topology, which has no master."""
    if local_topology() == "cluster":
        return f"http://127.0.0.1:{local_port('SPARK', 7077) + 1}"
    return ""


def local_spark_engagement_cores() -> int | None:
    """Cores the streaming job may take on the local cluster: all the workers' cores but
    the trend jobs' one (a standalone master never takes cores back from a running
    application, so a streaming job holding every core would starve the batch jobs).
    None in the single topology (local mode uses the machine's cores)."""
    if local_topology() != "cluster":
        return None
    workers = int(os.environ.get("STREAMER_SPARK_WORKERS", 2))
    cores = int(os.environ.get("STREAMER_SPARK_WORKER_CORES", 1))
    return max(1, workers * cores - 1)


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
