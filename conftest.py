"""The fixtures every test suite shares: the real parts. A fresh topic on the Kafka broker,
real Celery worker processes, a local SparkSession. `make test` starts MariaDB, Redis and
Kafka before pytest runs. Test data builders are in tests/factories.py, helpers in
tests/support/.

Django is imported inside the fixtures that need it, so the Spark transform tests run
without Django (`pytest -p no:django spark_jobs`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parent


@pytest.fixture
def kafka_topic() -> Iterator[str]:
    """A fresh, empty topic on the real broker, deleted afterwards."""
    from events.kafka_admin import topic_delete, topic_ensure

    name = f"test.{uuid.uuid4().hex[:12]}"
    topic_ensure(name=name, partitions=2, retention_ms=3600_000)
    yield name
    topic_delete(name=name)


def _worker_start(extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    from core.health import celery_workers_ping
    from tests.support.processes import app_env

    log_path = REPO_DIR / "var" / "log" / "test-celery-worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "streamer",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                f"--hostname={hostname}",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=REPO_DIR,
            env={**app_env(), **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120  # a loaded 2-core machine can take a while
    while hostname not in celery_workers_ping(timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"celery worker did not start; see {log_path}")
    return process


def _worker_stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def celery_worker_factory(
    django_db_setup, django_db_blocker
) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start real `celery worker` processes on demand, each with extra environment (e.g.
    TEST_KAFKA_EVENTS_TOPIC, OUTBOX_BATCH_SIZE: the worker reads settings from its env); all
    are stopped afterwards."""
    started: list[subprocess.Popen] = []

    def start(env: dict[str, str] | None = None) -> subprocess.Popen:
        process = _worker_start(env)
        started.append(process)
        return process

    yield start
    for process in started:
        _worker_stop(process)


@pytest.fixture
def celery_worker_process(celery_worker_factory) -> subprocess.Popen:
    """A real `celery worker` process consuming from the test broker, stopped afterwards."""
    return celery_worker_factory()


@pytest.fixture(autouse=True)
def _cache_empty() -> None:
    """Each test starts with an empty cache (the test settings' own Redis database): the
    database is rolled back after a test, the feed listings and cards in Redis are not."""
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return  # the Spark tests alone, without Django
    from django.core.cache import cache

    from core.cache import cache_state_reset

    cache.clear()
    cache_state_reset()


@pytest.fixture(scope="session")
def spark():
    from spark_jobs.common.session import spark_session

    session = spark_session("streamer-tests")
    yield session
    session.stop()


@pytest.fixture(autouse=True, scope="session")
def _quiet_py4j():
    import logging

    logging.getLogger("py4j").setLevel(logging.WARNING)
