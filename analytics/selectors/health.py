"""Pipeline health: one rule per part, read by `manage.py stack_status` and by the dashboard
(through the summary API), so both always say the same thing.

- Outbox: red when an event failed or the oldest pending one is older than
  OUTBOX_LAG_ALERT_SECONDS, amber from a quarter of that, else green.
- Spark engagement job: judged by how far its last applied batch is behind the topic and how
  long ago it was applied (ANALYTICS_SPARK_*); a job with nothing to read is green. Events
  that arrived behind the watermark (not counted) are reported beside it, per batch and
  for the day.
- Dead letters: amber/red by the messages rejected in the last 24 hours.
- Kafka: red when no broker answers, the events topic is missing, or a partition has no
  leader or fewer in-sync replicas than min.insync.replicas (acks=all writes to it fail);
  amber while a broker is down or a partition is under-replicated; else green.
- Spark cluster (only with a standalone master, SPARK_MASTER_UI_URL): red when the master
  does not answer or has no live worker; amber when a worker was lost, or the engagement job
  runs here without an application or executors on the cluster; else green.

What Kafka and the Spark master answer is cached ANALYTICS_PROBE_CACHE_SECONDS
(`probe_cached`), so dashboards refreshing every few seconds share one lookup.

`stack_parts()` adds the services underneath (database, Redis, Kafka, Celery) as up/down
lines. There the outbox is "down" when its rule says red, the Spark job when its process
is not running, Kafka when no broker answers, the Spark cluster when its rule says red;
each line's detail carries the part's state."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db.models import Sum
from django.utils import timezone
from kafka.errors import KafkaError

from analytics.models import EngagementDeadLetter, SparkBatch
from analytics.spark_cluster import SparkClusterState, spark_cluster_state
from analytics.spark_runner import spark_job_pid_running
from core.health import PartStatus, check_celery_worker, check_database, check_redis, one_line
from events.kafka_admin import KafkaHealth, kafka_health, topic_lag
from events.selectors import outbox_lag
from spark_jobs.contract import Queries, SparkApps

OUTBOX_AMBER_FRACTION = 0.25
T = TypeVar("T")


class Health(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


HEALTH_ORDER = (Health.GREEN, Health.AMBER, Health.RED)


def worst(states: Iterable[Health]) -> Health:
    return max(states, key=HEALTH_ORDER.index, default=Health.GREEN)


@dataclass
class ComponentHealth:
    state: Health
    detail: str


# --- outbox --------------------------------------------------------------------------------


@dataclass
class OutboxStatus:
    pending: int
    failed: int
    oldest_pending_at: datetime | None
    oldest_age_seconds: float
    health: ComponentHealth


def outbox_thresholds() -> tuple[int, int]:
    """Seconds of the oldest pending event at which the outbox turns amber and red."""
    red = settings.OUTBOX_LAG_ALERT_SECONDS
    return round(red * OUTBOX_AMBER_FRACTION), red


def outbox_status() -> OutboxStatus:
    lag = outbox_lag()
    age = lag.oldest_age_seconds
    amber, red = outbox_thresholds()
    if lag.failed or age >= red:
        state = Health.RED
    elif age >= amber:
        state = Health.AMBER
    else:
        state = Health.GREEN
    return OutboxStatus(
        pending=lag.pending,
        failed=lag.failed,
        oldest_pending_at=lag.oldest_pending_at,
        oldest_age_seconds=round(age, 1),
        health=ComponentHealth(state=state, detail=lag.describe()),
    )


# --- the Spark engagement job --------------------------------------------------------------


@dataclass
class SparkStatus:
    running: bool
    pid: int | None
    last_batch_id: int | None
    last_batch_at: datetime | None
    last_batch_age_seconds: float | None
    watermark: datetime | None
    lag_events: int | None
    lag_error: str
    health: ComponentHealth
    late_events_last_batch: int = 0
    late_events_today: int = 0

    def describe(self) -> str:
        parts = [f"pid {self.pid}" if self.pid else "not running"]
        if self.last_batch_at is None:
            parts.append("no batch yet")
        else:
            parts.append(
                f"last batch {self.last_batch_id} at {self.last_batch_at:%Y-%m-%d %H:%M:%S} UTC "
                f"({self.last_batch_age_seconds:.0f} s ago)"
            )
        if self.lag_events is not None:
            parts.append(f"lag {self.lag_events} events")
        elif self.lag_error:
            parts.append(f"lag unknown ({self.lag_error})")
        if self.late_events_today:
            parts.append(f"{self.late_events_today} late events today (not counted)")
        return ", ".join(parts)


def probe_cached(key: str, probe: Callable[[], T]) -> T:
    """`probe()`, or its answer of the last ANALYTICS_PROBE_CACHE_SECONDS under `key`. A
    probe reports failures in its answer, so they are cached too: while a service is down,
    only one request per interval waits for its timeout."""
    cached = cache.get(key)
    if cached is None:
        cached = probe()
        cache.set(key, cached, settings.ANALYTICS_PROBE_CACHE_SECONDS)
    return cached


def spark_lag_cached(topic: str, end_offsets: dict[str, int]) -> int:
    """Messages on the topic past the batch's end offsets, cached per (topic, offsets): a new
    batch changes the offsets and so the key."""
    offsets = json.dumps([topic, end_offsets], sort_keys=True).encode()

    def probe() -> dict:
        try:
            return {"lag": topic_lag(topic, end_offsets)}
        except KafkaError as exc:
            return {"error": one_line(exc)}

    cached = probe_cached("analytics:spark-lag:" + hashlib.sha256(offsets).hexdigest(), probe)
    if "error" in cached:
        raise KafkaError(cached["error"])
    return cached["lag"]


def spark_status(*, now: datetime | None = None, job: str = Queries.METRICS) -> SparkStatus:
    """The engagement job: whether it runs, its last applied batch (from the ledger the job
    writes in the same transaction as the metrics) and how many messages the topic holds
    beyond it."""
    now = now or timezone.now()
    pid = spark_job_pid_running(job)
    latest = SparkBatch.objects.filter(query_name=job).order_by("-applied_at", "-id").first()
    if latest is None:
        return SparkStatus(
            running=pid is not None,
            pid=pid,
            last_batch_id=None,
            last_batch_at=None,
            last_batch_age_seconds=None,
            watermark=None,
            lag_events=None,
            lag_error="",
            health=ComponentHealth(Health.AMBER, "no batch applied yet"),
        )
    lag: int | None
    try:
        lag, lag_error = spark_lag_cached(latest.topic, latest.end_offsets), ""
    except KafkaError as exc:
        lag, lag_error = None, one_line(exc)
    age = max(0.0, (now - latest.applied_at).total_seconds())
    state, detail = _spark_health(lag=lag, age=age, lag_error=lag_error)
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    late_today = SparkBatch.objects.filter(query_name=job, applied_at__gte=today).aggregate(
        late=Sum("late_events")
    )["late"]
    return SparkStatus(
        running=pid is not None,
        pid=pid,
        last_batch_id=latest.batch_id,
        last_batch_at=latest.applied_at,
        last_batch_age_seconds=round(age, 1),
        watermark=latest.watermark,
        lag_events=lag,
        lag_error=lag_error,
        health=ComponentHealth(state, detail),
        late_events_last_batch=latest.late_events,
        late_events_today=late_today or 0,
    )


def _spark_health(*, lag: int | None, age: float, lag_error: str) -> tuple[Health, str]:
    """A job with nothing to read applies no batches, so an old last batch only matters
    when the topic holds messages beyond it."""
    if lag is None:
        return Health.AMBER, f"lag unknown ({lag_error})"
    behind = f"{lag} events behind, last batch {age:.0f} s ago"
    if lag >= settings.ANALYTICS_SPARK_LAG_RED_EVENTS:
        return Health.RED, behind
    if lag and age >= settings.ANALYTICS_SPARK_STALE_RED_SECONDS:
        return Health.RED, behind + " (stalled)"
    if lag >= settings.ANALYTICS_SPARK_LAG_AMBER_EVENTS:
        return Health.AMBER, behind
    if lag and age >= settings.ANALYTICS_SPARK_STALE_AMBER_SECONDS:
        return Health.AMBER, behind + " (slow)"
    return Health.GREEN, behind if lag else f"caught up, last batch {age:.0f} s ago"


# --- dead letters --------------------------------------------------------------------------


@dataclass
class DeadLetterStatus:
    total: int
    last_24h: int
    latest_at: datetime | None
    health: ComponentHealth


def dead_letter_status(*, now: datetime | None = None) -> DeadLetterStatus:
    now = now or timezone.now()
    recent = EngagementDeadLetter.objects.filter(received_at__gte=now - timedelta(hours=24))
    last_24h = recent.count()
    latest_at = (
        EngagementDeadLetter.objects.order_by("-received_at")
        .values_list("received_at", flat=True)
        .first()
    )
    if last_24h >= settings.ANALYTICS_DEAD_LETTERS_RED:
        state = Health.RED
    elif last_24h >= settings.ANALYTICS_DEAD_LETTERS_AMBER:
        state = Health.AMBER
    else:
        state = Health.GREEN
    return DeadLetterStatus(
        total=EngagementDeadLetter.objects.count(),
        last_24h=last_24h,
        latest_at=latest_at,
        health=ComponentHealth(state, f"{last_24h} in the last 24 h"),
    )


# --- Kafka -------------------------------------------------------------------------------


@dataclass
class KafkaStatus:
    cluster: KafkaHealth
    health: ComponentHealth


def kafka_status() -> KafkaStatus:
    servers = ",".join(settings.KAFKA_BOOTSTRAP_SERVERS)
    cluster = probe_cached(
        f"analytics:kafka-health:{servers}:{settings.KAFKA_EVENTS_TOPIC}", kafka_health
    )
    writes_fail = cluster.offline or cluster.below_min_isr
    if not cluster.reachable or not cluster.topic_found or writes_fail:
        state = Health.RED
    elif cluster.brokers_down or cluster.under_replicated:
        state = Health.AMBER
    else:
        state = Health.GREEN
    return KafkaStatus(cluster=cluster, health=ComponentHealth(state, cluster.describe()))


# --- the Spark cluster ---------------------------------------------------------------------


@dataclass
class SparkClusterStatus:
    """`cluster` is None when there is no standalone master to ask (local mode)."""

    master: str
    cluster: SparkClusterState | None
    health: ComponentHealth


def spark_cluster_status(*, job: str = Queries.METRICS) -> SparkClusterStatus:
    master, master_ui = settings.SPARK_MASTER, settings.SPARK_MASTER_UI_URL
    if not master_ui:
        return SparkClusterStatus(
            master, None, ComponentHealth(Health.GREEN, f"{master}: no cluster to watch")
        )
    cluster = probe_cached(
        f"analytics:spark-cluster:{master_ui}",
        lambda: spark_cluster_state(master_ui, app_name=SparkApps.ENGAGEMENT),
    )
    job_here = spark_job_pid_running(job) is not None
    detail = cluster.describe()
    if not cluster.reachable or not cluster.workers_alive:
        state = Health.RED
    elif cluster.workers_lost or (job_here and not cluster.app_has_executors):
        state = Health.AMBER
    else:
        state = Health.GREEN
    return SparkClusterStatus(master, cluster, ComponentHealth(state, detail))


# --- the whole stack, one line per part ----------------------------------------------------


def check_kafka() -> PartStatus:
    status = kafka_status()
    detail = f"{status.health.state}: {status.health.detail}"
    return PartStatus("kafka", status.cluster.reachable, status.cluster.servers, detail)


def check_spark_cluster() -> PartStatus:
    status = spark_cluster_status()
    detail = f"{status.health.state}: {status.health.detail}"
    address = settings.SPARK_MASTER_UI_URL or status.master
    return PartStatus("spark cluster", status.health.state != Health.RED, address, detail)


def check_outbox() -> PartStatus:
    try:
        status = outbox_status()
    except Exception as exc:  # noqa: BLE001 - any failure means "unknown", with its message
        return PartStatus("outbox", False, settings.KAFKA_EVENTS_TOPIC, one_line(exc))
    detail = f"{status.health.state}: {status.health.detail}"
    return PartStatus(
        "outbox", status.health.state != Health.RED, settings.KAFKA_EVENTS_TOPIC, detail
    )


def check_spark_job(job: str = Queries.METRICS) -> PartStatus:
    name = f"spark {job} job"
    try:
        status = spark_status(job=job)
    except Exception as exc:  # noqa: BLE001 - e.g. tables not migrated yet: say so, don't crash
        pid = spark_job_pid_running(job)
        return PartStatus(name, pid is not None, settings.SPARK_MASTER, one_line(exc))
    detail = f"{status.health.state}: {status.describe()}"
    return PartStatus(name, status.running, settings.SPARK_MASTER, detail)


def stack_parts() -> list[PartStatus]:
    return [
        check_database(),
        check_redis(),
        check_kafka(),
        check_celery_worker(),
        check_outbox(),
        check_spark_cluster(),
        check_spark_job(),
    ]
