"""Fault behaviour: the short form of the fault suite (tests/faults/harness.py, a private stack
on other ports, so the shared services are never touched) on the single broker, one short
check of its cluster form, the clean 503 a page or the API gives while the database is
unreachable, and the event-emission switch of the benchmark."""

from __future__ import annotations

import os
import shutil
import socket
import time

import pytest
from django.db import OperationalError
from django.test import override_settings
from kafka.errors import KafkaTimeoutError

from events.models import OutboxEvent
from tests.factories import community_make, user_make
from tests.faults.harness import FaultRun, Ports, Settings


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _free_block(count: int, near: str, fallback: int) -> int:
    """The first of `count` consecutive free ports: just above this stack's own (the port in
    environment variable `near`, so a run stays in the range its engineer was given), or
    from `fallback` up when it is not set."""
    own = int(os.environ.get(near, 0))
    start, stop = (own + 6, own + 19) if own else (fallback, fallback + 2000)
    for base in range(start, stop - count + 2):
        if all(_port_free(port) for port in range(base, base + count)):
            return base
    raise RuntimeError(f"no {count} free ports in a row from {start} to {stop}")


DB_DOWN = OperationalError(2002, "Can't connect to server on '127.0.0.1' (115)")

SKIP_FAULTS = pytest.mark.skipif(
    os.environ.get("STREAMER_SKIP_FAULTS") == "1" or shutil.which("mariadbd") is None,
    reason="STREAMER_SKIP_FAULTS=1 or no MariaDB server binary",
)


@SKIP_FAULTS
def test_fault_suite_short_form(tmp_path_factory):
    """Kafka stopped and started, the Spark job and the Celery worker killed with -9 and
    restarted, MariaDB restarted, each under live traffic: nothing lost, metrics equal the
    domain tables, no failed request except clean 503s while MariaDB was down."""
    config = Settings.short_form()
    # Free ports and a fresh data directory, so the run never meets another stack.
    config.ports = Ports(*_free_ports(5))
    config.var_dir = tmp_path_factory.mktemp("faults")
    report = FaultRun(config).run()
    phases = {phase["phase"]: phase["check"] for phase in report.phases}
    assert all(check.get("ok") for check in phases.values()), phases
    assert report.bad_answers == []
    assert report.requests > 0


@SKIP_FAULTS
def test_fault_suite_cluster_short_check(tmp_path_factory):
    """On three Kafka nodes and a two-worker Spark standalone cluster (the job holding an
    executor on each), under live traffic: a Kafka node killed with -9 and started again.
    Zero events missing or duplicated in the metrics, every broker back and in sync, no
    failed user request, and the health showed the broker down. One fault only, to keep the
    suite short: the Spark worker and driver kills run in `STREAMER_TOPOLOGY=cluster make
    faults` (FAULTS_ARGS=--short for their short form)."""
    config = Settings.short_form("cluster")
    config.only = ("kafka-node",)
    db, redis, web = _free_ports(3)
    kafka = _free_block(6, "STREAMER_KAFKA_PORT", 21000)
    spark = _free_block(7, "STREAMER_SPARK_PORT", 23000)
    config.ports = Ports(db, redis, kafka, kafka + 1, web, spark)
    config.var_dir = tmp_path_factory.mktemp("faults-cluster")
    report = FaultRun(config).run()
    names = [phase["phase"] for phase in report.phases]
    assert [name.split(" ")[:2] for name in names] == [
        ["baseline"],
        ["kafka", "node"],
    ], names
    for phase in report.phases:
        assert phase["check"].get("ok"), phase
        assert not phase["unmet"], phase
    assert report.bad_answers == []
    assert report.requests > 0


@pytest.mark.django_db
def test_html_page_answers_clean_503_while_database_is_down(client, monkeypatch):
    def unreachable(**_kwargs):
        raise DB_DOWN

    monkeypatch.setattr("posts.views.listings.feed_home", unreachable)
    response = client.get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.content.decode()
    assert "503 Service Unavailable" in body
    assert "Traceback" not in body and "OperationalError" not in body


@pytest.mark.django_db
def test_api_answers_json_503_while_database_is_down(client, monkeypatch):
    def unreachable(**_kwargs):
        raise DB_DOWN

    monkeypatch.setattr("posts.api.feed_api", unreachable)
    response = client.get("/api/v1/posts/")
    assert response.status_code == 503
    assert "detail" in response.json()


def test_handler500_turns_database_errors_into_503(rf):
    from core.api import api_server_error

    request = rf.get("/c/anything/")
    try:
        raise DB_DOWN
    except OperationalError:
        response = api_server_error(request)
    assert response.status_code == 503
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        assert api_server_error(rf.get("/api/v1/posts/")).status_code == 500


def test_events_are_enabled_by_default():
    from django.conf import settings

    assert settings.EVENTS_ENABLED is True


@pytest.mark.django_db
def test_events_switched_off_append_nothing():
    owner = user_make("switch-owner")
    before = OutboxEvent.objects.count()
    community_make(owner=owner, name="Switched On", slug="switched-on")
    assert OutboxEvent.objects.count() > before
    with override_settings(EVENTS_ENABLED=False):
        before = OutboxEvent.objects.count()
        community_make(owner=owner, name="Switched Off", slug="switched-off")
        assert OutboxEvent.objects.count() == before


class _StuckFuture:
    """A produce future the producer never completes (seen after a broker restart)."""

    is_done = False

    def get(self, timeout: float | None = None) -> None:
        time.sleep(min(timeout or 0.0, 0.5))
        raise KafkaTimeoutError(f"Timeout after waiting for {timeout} secs.")


class _StuckProducer:
    closed = False

    def send(self, topic: str, *, key: bytes, value: bytes) -> _StuckFuture:
        return _StuckFuture()

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


@pytest.mark.django_db
def test_stuck_producer_costs_one_deadline_per_batch_and_is_discarded(monkeypatch, settings):
    """Regression (found by the fault suite): after Kafka restarted, the worker waited on each
    of a batch's futures with a fresh 15 s timeout (hours for a 500-row batch) and kept the
    stuck producer. Now the whole batch shares one deadline and the producer is replaced."""
    from events import publisher
    from tests.factories import outbox_rows_create

    settings.KAFKA_PRODUCER_DELIVERY_TIMEOUT_MS = 0
    producer = _StuckProducer()
    handle = publisher.ProducerHandle(producer=producer, topic="t", max_message_bytes=1 << 20)
    monkeypatch.setattr(publisher, "_producer_create", lambda topic, **_: handle)
    monkeypatch.setattr(publisher, "_producer_handle", None)
    monkeypatch.setattr(time, "monotonic", _fast_clock())
    outbox_rows_create(200)

    result = publisher.outbox_publish_batch(batch_size=500)

    assert result.claimed == 200 and result.published == 0 and result.retry == 200
    assert OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING, attempts=1).count() == 200
    assert producer.closed and publisher._producer_handle is None


def _fast_clock():
    """time.monotonic advancing 1 s per call, so a 10 s deadline passes after ~10 futures."""
    ticks = iter(range(10**9))
    return lambda: float(next(ticks))
