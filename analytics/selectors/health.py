"""Pipeline health: one rule per part, read by `manage.py stack_status` and by the dashboard
(through the summary API), so both always say the same thing.

- Outbox: red when an event failed or the oldest pending one is older than
  OUTBOX_LAG_ALERT_SECONDS, amber from a quarter of that, else green.
- Spark engagement job: judged by how far its last applied batch is behind the topic and how
  long ago it was applied (ANALYTICS_SPARK_*); a job with nothing to read is green. Events
  that arrived behind the watermark (not counted) are reported beside it, per batch and
  for the day.
- Dead letters: amber/red by the messages rejected in the last 24 hours.

`stack_parts()` adds the services underneath (database, Redis, Kafka, Celery) as up/down
lines. There the outbox is "down" when its rule says red, and the Spark job when its process
is not running; each line's detail carries the part's state."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.core.cache import cache
from django.db.models import Sum
from django.utils import timezone
from kafka.errors import KafkaError

from analytics.models import EngagementDeadLetter, SparkBatch
from analytics.spark_runner import spark_job_pid_running
from core.health import PartStatus, check_celery_worker, check_database, check_redis, one_line
from events.kafka_admin import events_topic_health, topic_lag
from events.selectors import outbox_lag
from spark_jobs.contract import Queries

OUTBOX_AMBER_FRACTION = 0.25


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


def spark_lag_cached(topic: str, end_offsets: dict[str, int]) -> int:
    """Messages on the topic past the batch's end offsets. Cached for a few seconds per
    (topic, offsets), so dashboards refreshing every few seconds do not each open a Kafka
    connection (a new batch changes the offsets and so the key). A failure is cached too:
    while Kafka is down, only one request per interval waits for the connection timeout."""
    offsets = json.dumps([topic, end_offsets], sort_keys=True).encode()
    key = "analytics:spark-lag:" + hashlib.sha256(offsets).hexdigest()
    cached = cache.get(key)
    if cached is None:
        try:
            cached = {"lag": topic_lag(topic, end_offsets)}
        except KafkaError as exc:
            cached = {"error": one_line(exc)}
        cache.set(key, cached, settings.ANALYTICS_SPARK_LAG_CACHE_SECONDS)
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


# --- the whole stack, one line per part ----------------------------------------------------


def check_kafka() -> PartStatus:
    topic = events_topic_health()
    return PartStatus("kafka", topic.reachable, topic.servers, topic.describe())


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
        check_spark_job(),
    ]
