"""Probes of the services the stack runs on (database, Redis, Celery workers), shared by
`manage.py stack_status`, the dashboard's pipeline health and the tests. The event
pipeline's own parts (Kafka, outbox, Spark job) are judged in `analytics.selectors.health`."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from celery import current_app
from django.conf import settings
from django.db import connection


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
        return PartStatus("database", False, address, one_line(exc))


def check_redis() -> PartStatus:
    url = settings.CELERY_BROKER_URL
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        return PartStatus("redis", True, url)
    except redis.RedisError as exc:
        return PartStatus("redis", False, url, one_line(exc))


def celery_workers_ping(timeout: float) -> list[str]:
    """Names of the workers answering a ping within `timeout` seconds.

    Pings over a connection of its own: the pooled one's reply poller can be left deaf in a
    process that has forked children (kombu's after-fork cleanup in the child unregisters the
    sockets from the epoll set both processes share), e.g. after seed_fake_data --workers."""
    app = current_app._get_current_object()
    with app.connection_for_write() as connection_:
        replies = app.control.ping(timeout=timeout, connection=connection_)
    return sorted(name for reply in replies for name in reply)


def check_celery_worker() -> PartStatus:
    try:
        workers = celery_workers_ping(timeout=1.0)
    except Exception as exc:  # noqa: BLE001 - broker errors surface as many types
        return PartStatus("celery worker", False, settings.CELERY_BROKER_URL, one_line(exc))
    return PartStatus(
        "celery worker", bool(workers), settings.CELERY_BROKER_URL, ", ".join(workers) or "none"
    )


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
