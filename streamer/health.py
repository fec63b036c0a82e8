"""Checks of each part of the running stack, shared by `manage.py stack_status` and tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from streamer.celery import app as celery_app


@dataclass(frozen=True)
class PartStatus:
    name: str
    up: bool
    address: str
    detail: str = ""


def check_database() -> PartStatus:
    db = settings.DATABASES["default"]
    address = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 3306}/{db['NAME']}"
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            (version,) = cursor.fetchone()
        return PartStatus("database", True, address, version)
    except Exception as exc:  # noqa: BLE001 - any failure means "down", with its message
        return PartStatus("database", False, address, _one_line(exc))


def check_redis() -> PartStatus:
    url = settings.CELERY_BROKER_URL
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        return PartStatus("redis", True, url)
    except redis.RedisError as exc:
        return PartStatus("redis", False, url, _one_line(exc))


def check_kafka() -> PartStatus:
    servers = ",".join(settings.KAFKA_BOOTSTRAP_SERVERS)
    topic = settings.KAFKA_EVENTS_TOPIC
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
            request_timeout_ms=3000,
            client_id="streamer-status",
        )
    except KafkaError as exc:
        return PartStatus("kafka", False, servers, _one_line(exc))
    try:
        topics = {t["name"]: t for t in admin.describe_topics([topic]) if not t.get("error_code")}
    except KafkaError:
        topics = {}
    finally:
        admin.close()
    if topic in topics:
        detail = f"topic {topic}: {len(topics[topic]['partitions'])} partitions"
    else:
        detail = f"topic {topic} missing: run `manage.py kafka_setup`"
    return PartStatus("kafka", True, servers, detail)


def celery_workers_ping(timeout: float) -> list[str]:
    """Names of the workers answering a ping within `timeout` seconds.

    Pings over a connection of its own: the pooled one's reply poller can be left deaf in a
    process that has forked children (kombu's after-fork cleanup in the child unregisters the
    sockets from the epoll set both processes share), e.g. after seed_fake_data --workers."""
    with celery_app.connection_for_write() as connection:
        replies = celery_app.control.ping(timeout=timeout, connection=connection)
    return sorted(name for reply in replies for name in reply)


def check_celery_worker() -> PartStatus:
    try:
        workers = celery_workers_ping(timeout=1.0)
    except Exception as exc:  # noqa: BLE001 - broker errors surface as many types
        return PartStatus("celery worker", False, settings.CELERY_BROKER_URL, _one_line(exc))
    return PartStatus(
        "celery worker", bool(workers), settings.CELERY_BROKER_URL, ", ".join(workers) or "none"
    )


def check_outbox() -> PartStatus:
    """Outbox lag: rows not yet on Kafka and the oldest one's age, plus failed rows. "down"
    when the oldest pending row is older than OUTBOX_LAG_ALERT_SECONDS or any row failed."""
    from analytics.publisher import outbox_lag

    try:
        lag = outbox_lag()
    except Exception as exc:  # noqa: BLE001 - any failure means "unknown", with its message
        return PartStatus("outbox", False, settings.KAFKA_EVENTS_TOPIC, _one_line(exc))
    return PartStatus("outbox", not lag.alert, settings.KAFKA_EVENTS_TOPIC, lag.describe())


def spark_job_pid(pid_file: Path) -> int | None:
    """The pid in a Spark job's pid file when that process is alive and still a Spark job
    (not a reused pid)."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and b"spark_jobs." not in cmdline.read_bytes():
        return None
    return pid


@dataclass(frozen=True)
class SparkJobState:
    pid: int | None
    last_batch_id: int | None = None
    last_batch_at: datetime | None = None
    lag: int | None = None
    lag_error: str = ""

    def describe(self) -> str:
        parts = [f"pid {self.pid}" if self.pid else "not running"]
        if self.last_batch_at is None:
            parts.append("no batch yet")
        else:
            age = (timezone.now() - self.last_batch_at).total_seconds()
            parts.append(
                f"last batch {self.last_batch_id} at {self.last_batch_at:%Y-%m-%d %H:%M:%S} UTC "
                f"({age:.0f} s ago)"
            )
        if self.lag is not None:
            parts.append(f"lag {self.lag} events")
        elif self.lag_error:
            parts.append(f"lag unknown ({self.lag_error})")
        return ", ".join(parts)


def spark_job_state(name: str = "engagement") -> SparkJobState:
    """Whether the job runs, its last applied batch (from the ledger the job writes in the
    same transaction as the metrics) and its lag: messages on the topic past the end offsets
    of that batch."""
    from analytics.models import SparkBatch

    pid = spark_job_pid(Path(settings.VAR_DIR) / "run" / f"spark-{name}.pid")
    latest = SparkBatch.objects.filter(query_name=name).order_by("-applied_at", "-id").first()
    if latest is None:
        return SparkJobState(pid=pid)
    try:
        lag: int | None = topic_lag(latest.topic, latest.end_offsets)
        lag_error = ""
    except KafkaError as exc:
        lag, lag_error = None, _one_line(exc)
    return SparkJobState(
        pid=pid,
        last_batch_id=latest.batch_id,
        last_batch_at=latest.applied_at,
        lag=lag,
        lag_error=lag_error,
    )


def topic_lag(topic: str, consumed: dict[str, int]) -> int:
    """Messages on `topic` at or after the given {partition: next offset} positions."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        client_id="streamer-status",
        request_timeout_ms=5000,
        bootstrap_timeout_ms=3000,
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        latest = consumer.end_offsets(partitions) if partitions else {}
    finally:
        consumer.close()
    return sum(max(0, end - consumed.get(str(tp.partition), 0)) for tp, end in latest.items())


def check_spark_job(name: str = "engagement") -> PartStatus:
    try:
        state = spark_job_state(name)
    except Exception as exc:  # noqa: BLE001 - e.g. tables not migrated yet: say so, don't crash
        pid = spark_job_pid(Path(settings.VAR_DIR) / "run" / f"spark-{name}.pid")
        return PartStatus(
            f"spark {name} job", pid is not None, settings.SPARK_MASTER, _one_line(exc)
        )
    return PartStatus(
        f"spark {name} job", state.pid is not None, settings.SPARK_MASTER, state.describe()
    )


def all_checks() -> list[PartStatus]:
    return [
        check_database(),
        check_redis(),
        check_kafka(),
        check_celery_worker(),
        check_outbox(),
        check_spark_job(),
    ]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
