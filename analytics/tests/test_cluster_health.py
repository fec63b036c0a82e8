"""Pipeline health of the Kafka brokers and of the Spark cluster: what the real brokers say,
the amber/red rules, and a Spark master that does not answer. (A real standalone cluster
losing a broker and a worker is watched by the fault suite's cluster form.)"""

from __future__ import annotations

import socket
import uuid

import pytest
from django.core.cache import cache
from django.core.management import call_command

from analytics.selectors import health
from analytics.spark_cluster import SparkClusterState, SparkWorkerState
from events.kafka_admin import KafkaHealth

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_probes():
    """The health caches what Kafka and the master answer; each test asks afresh."""
    cache.clear()
    yield
    cache.clear()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_kafka_health_describes_the_real_brokers_and_topic(kafka_topic, settings):
    settings.KAFKA_EVENTS_TOPIC = kafka_topic

    status = health.kafka_status()

    cluster = status.cluster
    assert status.health.state == "green", status.health.detail
    assert cluster.reachable and cluster.topic_found
    assert len(cluster.brokers_up) == len(settings.KAFKA_BOOTSTRAP_SERVERS)
    assert cluster.brokers_down == ()
    assert cluster.partitions == 2
    assert cluster.replication_factor == settings.KAFKA_EVENTS_REPLICATION_FACTOR
    assert cluster.min_insync_replicas == settings.KAFKA_EVENTS_MIN_INSYNC_REPLICAS
    assert (cluster.under_replicated, cluster.below_min_isr, cluster.offline) == (0, 0, 0)
    assert f"{len(cluster.brokers_up)} of {len(cluster.brokers_up)} brokers up" in (
        status.health.detail
    )


def test_kafka_health_is_red_without_the_topic(settings):
    settings.KAFKA_EVENTS_TOPIC = f"test.absent.{uuid.uuid4().hex[:8]}"

    status = health.kafka_status()

    assert status.health.state == "red"
    assert "missing: run `manage.py kafka_setup`" in status.health.detail


def test_kafka_health_is_red_when_no_broker_answers(settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = [f"127.0.0.1:{free_port()}"]

    status = health.kafka_status()

    assert not status.cluster.reachable
    assert status.health.state == "red"
    parts = {part.name: part for part in health.stack_parts()}
    assert not parts["kafka"].up


HEALTHY = KafkaHealth(
    "b", True, brokers_up=(1, 2, 3), topic="t", topic_found=True, partitions=6,
    replication_factor=3, min_insync_replicas=2,
)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "state"),
    [
        ({}, "green"),
        ({"brokers_up": (2, 3), "brokers_down": (1,)}, "amber"),  # fenced, ISRs not shrunk yet
        ({"brokers_up": (2, 3), "brokers_down": (1,), "under_replicated": 4}, "amber"),
        ({"under_replicated": 6, "below_min_isr": 2}, "red"),  # acks=all writes fail there
        ({"offline": 1}, "red"),
    ],
)
def test_kafka_health_rules(monkeypatch, change, state):
    monkeypatch.setattr(health, "kafka_health", lambda: KafkaHealth(**{**vars(HEALTHY), **change}))

    status = health.kafka_status()

    assert status.health.state == state
    if change.get("brokers_down"):
        assert "2 of 3 brokers up (down: 1)" in status.health.detail


def test_spark_cluster_is_not_watched_without_a_master_ui(settings):
    settings.SPARK_MASTER = "local[2]"
    settings.SPARK_MASTER_UI_URL = ""

    status = health.spark_cluster_status()

    assert status.cluster is None
    assert status.health.state == "green"
    assert status.health.detail == "local[2]: no cluster to watch"


def test_spark_cluster_is_red_when_its_master_does_not_answer(settings, capsys):
    settings.SPARK_MASTER = "spark://127.0.0.1:1"
    settings.SPARK_MASTER_UI_URL = f"http://127.0.0.1:{free_port()}"

    status = health.spark_cluster_status()

    assert status.cluster is not None and not status.cluster.reachable
    assert status.health.state == "red"
    call_command("stack_status")
    out = capsys.readouterr().out.splitlines()
    line = next(text for text in out if text.startswith("spark cluster"))
    assert "down" in line and "not answering" in line


def worker(address: str, *, alive: bool = True, executors: int = 1) -> SparkWorkerState:
    return SparkWorkerState(address, alive, cores=1, cores_used=executors, executors=executors)


@pytest.mark.parametrize(
    ("workers", "job_runs", "state"),
    [
        ((worker("w:1"), worker("w:2")), True, "green"),
        ((worker("w:1", executors=0), worker("w:2", executors=0)), False, "green"),
        ((worker("w:1"), worker("w:2", alive=False, executors=0)), True, "amber"),
        ((worker("w:1", executors=0),), True, "amber"),  # the job runs but has no executor
        ((worker("w:1", alive=False, executors=0),), False, "red"),
    ],
)
def test_spark_cluster_rules(monkeypatch, settings, workers, job_runs, state):
    settings.SPARK_MASTER_UI_URL = f"http://spark-master-{uuid.uuid4().hex[:6]}"
    app_id = "app-1" if any(w.executors for w in workers) else None
    monkeypatch.setattr(
        health,
        "spark_cluster_state",
        lambda url, app_name: SparkClusterState(
            url,
            True,
            workers=workers,
            app_name=app_name,
            app_id=app_id,
            app_cores=sum(w.executors for w in workers),
        ),
    )
    monkeypatch.setattr(health, "spark_job_pid_running", lambda job: 4321 if job_runs else None)

    status = health.spark_cluster_status()

    assert status.health.state == state
    alive = sum(w.alive for w in workers)
    assert status.health.detail.startswith(f"{alive} of {len(workers)} workers alive")
