"""The outbox publisher against the real broker, database and (where named) Celery worker."""

from __future__ import annotations

import io
import os
import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from analytics.selectors.health import check_outbox
from communities.services import community_create
from core.beat import periodic_tasks_ensure
from events import publisher
from events.beat import OUTBOX_PURGE_TASK_NAME, OUTBOX_SWEEP_TASK_NAME, periodic_entries
from events.envelope import EventType
from events.kafka_admin import topic_delete, topic_ensure
from events.models import OutboxEvent
from events.selectors import outbox_lag
from events.services import event_append, outbox_retry_failed
from posts.services import post_create
from tests.factories import outbox_rows_create
from tests.support.kafka import topic_read_all
from tests.support.outbox import assert_per_key_order, keys_in_order
from tests.support.processes import wait_until

SMALL_TOPIC_MAX_BYTES = 8192


@pytest.fixture
def events_topic(kafka_topic, settings):
    """Point the in-process publisher at a fresh topic (the producer is rebuilt per topic)."""
    settings.KAFKA_EVENTS_TOPIC = kafka_topic
    yield kafka_topic
    publisher.producer_close()


@pytest.fixture
def small_topic(settings):
    """A fresh topic that takes records of at most SMALL_TOPIC_MAX_BYTES."""
    name = f"test.small.{uuid.uuid4().hex[:10]}"
    topic_ensure(
        name=name,
        partitions=2,
        retention_ms=3600_000,
        configs={"max.message.bytes": str(SMALL_TOPIC_MAX_BYTES)},
    )
    settings.KAFKA_EVENTS_TOPIC = name
    yield name
    publisher.producer_close()
    topic_delete(name=name)


# --- end to end through the worker -----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_web_actions_reach_the_topic_through_the_worker(celery_worker_factory, kafka_topic, client):
    celery_worker_factory({"TEST_KAFKA_EVENTS_TOPIC": kafka_topic})
    users = get_user_model().objects
    owner = users.create_user(username="ada", password="x-long-pass-9")
    reader = users.create_user(username="grace", password="x-long-pass-9")
    community = community_create(creator=owner, name="Jazz standards")
    post = post_create(author=owner, community=community, kind="quote", text="So what")
    client.force_login(reader)

    assert client.get(f"/p/{post.pk}/").status_code == 200
    assert client.post(f"/p/{post.pk}/like/").status_code in (200, 302)

    assert wait_until(
        lambda: not OutboxEvent.objects.exclude(status="published").exists(), timeout=30
    )
    messages = {m.envelope["event_type"]: m for m in topic_read_all(kafka_topic)}
    assert set(messages) == {"community_created", "post_created", "post_viewed", "post_liked"}
    liked = messages["post_liked"]
    row = OutboxEvent.objects.get(event_type="post_liked")
    assert liked.envelope == row.envelope
    assert (liked.envelope["actor_id"], liked.envelope["post_id"]) == (reader.pk, post.pk)
    assert liked.key == messages["post_viewed"].key == str(post.pk)
    assert messages["community_created"].key == str(community.pk)
    assert (liked.partition, liked.offset) == (row.kafka_partition, row.kafka_offset)
    assert row.published_at is not None and row.attempts == 1


# --- the publisher in process ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_publisher_marks_rows_after_ack_oldest_first_in_key_order(events_topic):
    rows = outbox_rows_create(120)

    result = publisher.outbox_publish_pending(batch_size=50)

    assert (result.published, result.batches, result.failed) == (120, 3, 0)
    messages = topic_read_all(events_topic)
    by_event = {m.event_id: m for m in messages}
    assert len(messages) == len(by_event) == 120
    for row in OutboxEvent.objects.filter(pk__in=[r.pk for r in rows]):
        message = by_event[str(row.event_id)]
        assert row.status == OutboxEvent.Status.PUBLISHED
        assert (row.kafka_partition, row.kafka_offset) == (message.partition, message.offset)
        assert message.key == row.key
    assert_per_key_order(messages)
    assert publisher.outbox_publish_pending().published == 0


@pytest.mark.parametrize("chunk", [1000, 30], ids=["one chunk a batch", "pipelined chunks"])
@pytest.mark.django_db(transaction=True)
def test_two_publishers_at_once_send_each_event_exactly_once(events_topic, monkeypatch, chunk):
    monkeypatch.setattr(publisher, "CLAIM_CHUNK", chunk)
    rows = outbox_rows_create(3000, keys=25)
    handles = [publisher._producer_create(events_topic) for _ in range(2)]
    start = threading.Barrier(2)
    results: list[publisher.PublishResult | BaseException] = [None, None]

    def run(index: int) -> None:
        try:
            start.wait()
            total = publisher.PublishResult()
            # Drain in rounds: a round ends early when every claimed row waits behind the
            # other publisher's rows of the same key.
            while OutboxEvent.objects.filter(status="pending").exists():
                total.add(publisher.outbox_publish_pending(batch_size=100, handle=handles[index]))
            results[index] = total
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    for handle in handles:
        handle.close()

    assert all(isinstance(r, publisher.PublishResult) for r in results), results
    assert all(r.published > 0 for r in results), "both publishers should have sent rows"
    assert sum(r.published for r in results) == len(rows)
    messages = topic_read_all(events_topic)
    counts = Counter(m.event_id for m in messages)
    assert len(counts) == len(rows)
    assert max(counts.values()) == 1
    assert_per_key_order(messages)
    assert not OutboxEvent.objects.exclude(status="published").exists()


@pytest.mark.django_db(transaction=True)
def test_unserialisable_row_is_failed_and_does_not_block_the_rows_behind(events_topic):
    before = outbox_rows_create(3)
    poison = outbox_rows_create(1)[0]
    # Valid JSON to MariaDB, but it decodes to float("inf"), which JSON cannot carry back out.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE analytics_outboxevent SET envelope = JSON_SET(envelope, '$.payload.ratio', "
            "JSON_EXTRACT('{\"x\": 1e400}', '$.x')) WHERE id = %s",
            [poison.pk],
        )
    after = outbox_rows_create(3)

    result = publisher.outbox_publish_pending()

    assert (result.published, result.failed) == (6, 1)
    poison.refresh_from_db()
    assert poison.status == OutboxEvent.Status.FAILED
    assert "cannot serialise" in poison.last_error
    assert (
        OutboxEvent.objects.filter(
            pk__in=[r.pk for r in before + after], status="published"
        ).count()
        == 6
    )
    assert len(topic_read_all(events_topic)) == 6
    lag = outbox_lag()
    assert (lag.pending, lag.failed) == (0, 1)
    status = check_outbox()
    assert not status.up and "1 failed" in status.detail


@pytest.mark.django_db(transaction=True)
def test_oversized_event_is_failed_by_the_worker_and_the_rest_published(
    celery_worker_factory, small_topic
):
    celery_worker_factory({"TEST_KAFKA_EVENTS_TOPIC": small_topic})

    with transaction.atomic():
        first = event_append(
            event_type=EventType.COMMENT_CREATED, actor_id=1, community_id=1, post_id=5
        )
        big = event_append(
            event_type=EventType.COMMENT_CREATED,
            actor_id=1,
            community_id=1,
            post_id=5,
            payload={"text": os.urandom(2 * SMALL_TOPIC_MAX_BYTES).hex()},
        )
        last = event_append(
            event_type=EventType.COMMENT_CREATED, actor_id=1, community_id=1, post_id=5
        )

    assert wait_until(lambda: not OutboxEvent.objects.filter(status="pending").exists(), timeout=30)
    big.refresh_from_db()
    assert big.status == OutboxEvent.Status.FAILED
    assert "too large" in big.last_error and "MessageSizeTooLargeError" in big.last_error
    messages = topic_read_all(small_topic)
    assert [m.event_id for m in messages] == [str(first.event_id), str(last.event_id)]


@pytest.mark.django_db(transaction=True)
def test_broker_size_rejection_marks_only_the_culprit(small_topic, caplog):
    # A producer that believes the topic takes 1 MB sends the big record; the broker refuses
    # it, which kills kafka-python's idempotent producer and fails everything queued behind.
    unaware = publisher._producer_create(small_topic, max_message_bytes=1_048_576)
    before = outbox_rows_create(4, keys=1)
    big = outbox_rows_create(
        1, keys=1, payload_extra={"blob": os.urandom(2 * SMALL_TOPIC_MAX_BYTES).hex()}
    )[0]
    after = outbox_rows_create(4, keys=1)
    for n, row in enumerate([*before, big, *after]):
        row.envelope["payload"]["seq"] = n
        row.save(update_fields=["envelope"])

    try:
        result = publisher.outbox_publish_pending(handle=unaware)
    finally:
        unaware.close()

    assert (result.published, result.failed) == (8, 1)
    big.refresh_from_db()
    assert big.status == OutboxEvent.Status.FAILED and "too large" in big.last_error
    messages = topic_read_all(small_topic)
    assert len(messages) == 8
    assert keys_in_order(messages) == {"1": [0, 1, 2, 3, 5, 6, 7, 8]}
    assert "failed and is kept for inspection" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_failed_rows_can_be_retried(events_topic):
    (row,) = outbox_rows_create(1)
    OutboxEvent.objects.filter(pk=row.pk).update(status="failed", last_error="x")

    assert outbox_retry_failed(ids=[row.pk]) == 1
    publisher.outbox_publish_pending()

    row.refresh_from_db()
    assert row.status == OutboxEvent.Status.PUBLISHED and row.last_error == ""


@pytest.mark.django_db
def test_purge_deletes_only_published_rows_past_retention():
    old, recent, pending, failed = outbox_rows_create(4)
    now = timezone.now()
    OutboxEvent.objects.filter(pk=old.pk).update(
        status="published", published_at=now - timedelta(hours=73)
    )
    OutboxEvent.objects.filter(pk=recent.pk).update(
        status="published", published_at=now - timedelta(hours=1)
    )
    OutboxEvent.objects.filter(pk=failed.pk).update(status="failed")

    assert publisher.outbox_purge_published(retention_hours=72) == 1
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {
        recent.pk,
        pending.pk,
        failed.pk,
    }


# --- schedule, commands, status, admin -------------------------------------------------


@pytest.mark.django_db
def test_periodic_tasks_exist_after_migrate_and_admin_edits_survive(settings):
    sweep = PeriodicTask.objects.get(name=OUTBOX_SWEEP_TASK_NAME)
    purge = PeriodicTask.objects.get(name=OUTBOX_PURGE_TASK_NAME)
    assert sweep.task == "events.tasks.outbox_sweep" and sweep.enabled
    assert (sweep.interval.every, sweep.interval.period) == (
        settings.OUTBOX_SWEEP_SECONDS,
        IntervalSchedule.SECONDS,
    )
    assert purge.task == "events.tasks.outbox_purge"

    sweep.interval = IntervalSchedule.objects.create(every=30, period=IntervalSchedule.SECONDS)
    sweep.save()
    assert periodic_tasks_ensure(periodic_entries()) == []
    assert PeriodicTask.objects.get(name=OUTBOX_SWEEP_TASK_NAME).interval.every == 30


@pytest.mark.django_db(transaction=True)
def test_tail_events_prints_one_line_per_event(events_topic):
    outbox_rows_create(3)
    publisher.outbox_publish_pending()
    out = io.StringIO()

    call_command(
        "tail_events", topic=events_topic, from_beginning=True, limit=3, no_color=True, stdout=out
    )

    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert all("post_liked" in line and "community=1" in line for line in lines)


@pytest.mark.django_db
def test_stack_status_and_admin_show_the_outbox_lag(admin_client):
    (row,) = outbox_rows_create(1)
    OutboxEvent.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    out = io.StringIO()

    call_command("stack_status", no_color=True, stdout=out)
    page = admin_client.get("/admin/events/outboxevent/")
    moved = admin_client.get("/admin/analytics/outboxevent/")

    outbox_line = next(line for line in out.getvalue().splitlines() if line.startswith("outbox"))
    assert "down" in outbox_line and "1 pending, oldest 5min old" in outbox_line
    assert page.status_code == 200
    assert moved.status_code == 302 and moved["Location"] == "/admin/events/outboxevent/"
    assert b"Outbox lag" in page.content and b"1 pending" in page.content


# --- queueing: at most one waiting run ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_many_commits_queue_one_publisher_run_and_a_running_one_gets_one_follow_up(
    celery_worker_factory, kafka_topic, settings
):
    import redis

    from events.tasks import QUEUED_FLAG_KEY
    from streamer.celery import app as celery_app

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    celery_app.control.purge()
    broker.delete(QUEUED_FLAG_KEY)

    def commit(n: int) -> None:
        for actor in range(1, n + 1):
            with transaction.atomic():
                event_append(event_type=EventType.COMMUNITY_JOINED, actor_id=actor, community_id=1)

    commit(40)  # no worker yet: the runs would pile up in the queue
    assert broker.llen("celery") == 1

    celery_worker_factory({"TEST_KAFKA_EVENTS_TOPIC": kafka_topic})
    assert wait_until(lambda: not OutboxEvent.objects.filter(status="pending").exists(), timeout=60)
    assert wait_until(lambda: broker.llen("celery") == 0, timeout=10)
    assert not broker.exists(QUEUED_FLAG_KEY)  # the run cleared it before claiming

    commit(30)  # the flag is free again: the first commit queues the follow-up
    assert wait_until(lambda: not OutboxEvent.objects.filter(status="pending").exists(), timeout=60)
    assert len({m.event_id for m in topic_read_all(kafka_topic)}) == 70
