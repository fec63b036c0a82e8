"""The foundation works with the real services: MariaDB, Kafka, Celery through Redis, Spark."""

import json
import multiprocessing
import uuid

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from kafka import KafkaConsumer, KafkaProducer

from analytics.selectors.health import stack_parts
from core.health import check_celery_worker
from core.tasks import ping

pytestmark = pytest.mark.django_db


def test_user_round_trips_through_mariadb_with_utf8mb4():
    user_model = get_user_model()
    user_model.objects.create_user(username="zoë", first_name="Zoë 🎸", password="x-long-pass")

    assert user_model.objects.get(username="zoë").first_name == "Zoë 🎸"


def _produce(topic: str, records: list[dict]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all")
    for record in records:
        producer.send(topic, key=str(record["n"]).encode(), value=json.dumps(record).encode())
    producer.flush()
    producer.close()


def test_kafka_message_is_read_back_by_a_consumer_group(kafka_topic):
    sent = [{"n": n, "marker": uuid.uuid4().hex} for n in range(5)]
    _produce(kafka_topic, sent)

    consumer = KafkaConsumer(
        kafka_topic,
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        group_id=f"test-group-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    received = []
    for message in consumer:
        received.append(json.loads(message.value))
        if len(received) == len(sent):
            break
    consumer.commit()
    consumer.close()

    assert sorted(r["marker"] for r in received) == sorted(r["marker"] for r in sent)


def test_celery_task_runs_on_a_real_worker(celery_worker_process):
    result = ping.delay("hello")

    assert result.get(timeout=30) == "pong:hello"


def _noop() -> None:
    pass


def test_worker_status_stays_true_after_this_process_forks(celery_worker_process):
    """seed_fake_data --workers forks; the parent must still see the running worker."""
    assert check_celery_worker().up

    child = multiprocessing.get_context("fork").Process(target=_noop)
    child.start()
    child.join()

    assert check_celery_worker().up


@pytest.mark.spark
def test_spark_reads_kafka_through_the_official_source(spark, kafka_topic):
    sent = [{"n": n, "marker": uuid.uuid4().hex} for n in range(3)]
    _produce(kafka_topic, sent)

    frame = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", ",".join(settings.KAFKA_BOOTSTRAP_SERVERS))
        .option("subscribe", kafka_topic)
        .option("startingOffsets", "earliest")
        .load()
    )
    values = [json.loads(row.value) for row in frame.select("value").collect()]

    assert sorted(v["marker"] for v in values) == sorted(r["marker"] for r in sent)


def test_kafka_setup_is_idempotent(capsys):
    call_command("kafka_setup")
    call_command("kafka_setup")

    assert "already present" in capsys.readouterr().out


def test_stack_status_reports_the_services_tests_run_on():
    parts = {part.name: part for part in stack_parts()}

    assert parts["database"].up
    assert parts["redis"].up
    assert parts["kafka"].up
