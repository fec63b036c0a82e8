"""Checks of each part of the running stack, shared by `manage.py stack_status` and tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from kafka import KafkaAdminClient
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


def check_celery_worker() -> PartStatus:
    try:
        replies = celery_app.control.ping(timeout=1.0)
    except Exception as exc:  # noqa: BLE001 - broker errors surface as many types
        return PartStatus("celery worker", False, settings.CELERY_BROKER_URL, _one_line(exc))
    workers = sorted(name for reply in replies for name in reply)
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


def check_spark_job(name: str = "engagement") -> PartStatus:
    pid_file = Path(settings.VAR_DIR) / "run" / f"spark-{name}.pid"
    running = False
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().strip()), 0)
            running = True
        except (ValueError, ProcessLookupError, PermissionError):
            running = False
    return PartStatus(f"spark {name} job", running, settings.SPARK_MASTER)


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
