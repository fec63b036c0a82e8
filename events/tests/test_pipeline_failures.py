"""Failure behaviour of the event pipeline against the real broker, database and worker:
Kafka stopped while users act, and a Celery worker killed in the middle of a batch.

Both tests stop or kill shared things: Kafka is restarted in a `finally` whatever happens,
and the outage is kept well under 30 s."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from kafka import KafkaConsumer, TopicPartition

from communities.services import community_create, community_join
from events.models import OutboxEvent
from events.tasks import outbox_publish, outbox_sweep
from posts.services import comment_create, post_create, post_like
from streamer.celery import app as celery_app
from tests.factories import outbox_rows_create
from tests.support.kafka import topic_read_all
from tests.support.outbox import assert_topic_order_matches_outbox
from tests.support.processes import wait_until

REPO_DIR = Path(__file__).resolve().parents[2]

# Short producer timeouts so the worker notices the outage within the test's budget.
FAST_FAILURE_ENV = {
    "KAFKA_PRODUCER_REQUEST_TIMEOUT_MS": "2000",
    "KAFKA_PRODUCER_DELIVERY_TIMEOUT_MS": "3000",
    "KAFKA_PRODUCER_MAX_BLOCK_MS": "2000",
    "OUTBOX_BACKOFF_MAX_SECONDS": "4",
}


def stack(action: str, service: str) -> None:
    subprocess.run([str(REPO_DIR / "infra" / "stack.sh"), action, service], check=True, timeout=120)


def pending_count() -> int:
    return OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).count()


def sweep_until_drained(*, timeout: float) -> bool:
    """Queue sweeps every 2 s, as Celery beat would, until nothing is pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outbox_sweep.delay()
        if wait_until(lambda: pending_count() == 0, timeout=2):
            return True
    return False


@pytest.mark.django_db(transaction=True)
def test_kafka_stopped_actions_succeed_and_every_event_arrives_once_in_key_order(
    celery_worker_factory, kafka_topic
):
    celery_worker_factory({"TEST_KAFKA_EVENTS_TOPIC": kafka_topic, **FAST_FAILURE_ENV})
    users = [
        get_user_model().objects.create_user(username=f"fan{n}", password="x-long-pass-9")
        for n in range(4)
    ]
    owner = users[0]
    community = community_create(creator=owner, name="Outage club")
    for user in users[1:]:
        community_join(user=user, community=community)
    posts = [
        post_create(author=owner, community=community, kind="quote", text=f"Quote {n}")
        for n in range(3)
    ]
    assert wait_until(lambda: pending_count() == 0, timeout=30), "warm-up events not published"
    before_outage = OutboxEvent.objects.count()

    stack("stop", "kafka")
    outage_started = time.monotonic()
    try:
        durations = []
        for user in users:
            for post in posts:
                started = time.monotonic()
                post_like(user=user, post=post)
                comment_create(author=user, post=post, body=f"{user.username} was here")
                durations.append(time.monotonic() - started)
        started = time.monotonic()
        post_create(author=owner, community=community, kind="quote", text="Written offline")
        durations.append(time.monotonic() - started)

        appended = OutboxEvent.objects.count() - before_outage
        assert appended == len(users) * len(posts) * 2 + 1
        # Generous for a loaded 2-core machine; a wait on Kafka would add its timeouts.
        assert max(durations) < 2.5, f"actions waited on Kafka: {max(durations):.2f}s"
        assert pending_count() == appended
        assert wait_until(
            lambda: OutboxEvent.objects.filter(status="pending", attempts__gt=0).exists(),
            timeout=12,
        ), "the worker never tried (and failed) to publish during the outage"
        assert "KafkaTimeoutError" in (
            OutboxEvent.objects.filter(status="pending", attempts__gt=0).first().last_error
        )
    finally:
        stack("start", "kafka")
        outage = time.monotonic() - outage_started
    assert outage < 30, f"Kafka was down {outage:.0f}s"

    assert wait_until(lambda: pending_count() == 0, timeout=90), "events stuck after restart"
    assert not OutboxEvent.objects.filter(status="failed").exists()
    messages = topic_read_all(kafka_topic)
    counts = Counter(message.event_id for message in messages)
    assert set(counts) == {str(e) for e in OutboxEvent.objects.values_list("event_id", flat=True)}
    assert max(counts.values()) == 1, "an event reached the topic twice"
    assert_topic_order_matches_outbox(messages)


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_batch_then_the_sweep_republishes_what_was_not_marked(
    celery_worker_factory, kafka_topic
):
    batch_size = 5000
    rows = outbox_rows_create(30_000, keys=50)
    env = {"TEST_KAFKA_EVENTS_TOPIC": kafka_topic, "OUTBOX_BATCH_SIZE": str(batch_size)}
    consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, group_id=None)
    numbers = consumer.partitions_for_topic(kafka_topic)
    partitions = [TopicPartition(kafka_topic, number) for number in numbers]
    celery_app.control.purge()  # runs queued by earlier tests must not start before we watch
    worker = celery_worker_factory(env)

    def acknowledged_but_unmarked() -> bool:
        on_topic = sum(consumer.end_offsets(partitions).values())
        published = OutboxEvent.objects.filter(status="published").count()
        return 0 < published < on_topic

    outbox_publish.delay()
    try:
        caught = wait_until(acknowledged_but_unmarked, timeout=60, interval=0.01)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    on_topic_at_kill = sum(consumer.end_offsets(partitions).values())
    consumer.close()
    assert caught, "never saw a batch acknowledged by Kafka but not yet marked"
    published_at_kill = OutboxEvent.objects.filter(status="published").count()
    assert published_at_kill < len(rows)
    assert on_topic_at_kill > published_at_kill

    celery_worker_factory(env)
    assert sweep_until_drained(timeout=120), "the sweep did not republish the unmarked rows"

    messages = topic_read_all(kafka_topic)
    counts = Counter(message.event_id for message in messages)
    assert set(counts) == {str(row.event_id) for row in rows}, "an event is missing"
    duplicated = sum(count - 1 for count in counts.values())
    assert 0 < duplicated <= batch_size, "only the killed batch may be sent twice"
    assert_topic_order_matches_outbox(messages)
