"""The envelope v1 builder and schema, and appending events to the outbox."""

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import jsonschema
import pytest
from django.db import transaction

from events.envelope import EventType, envelope_build, envelope_key, envelope_validate
from events.models import OutboxEvent
from events.services import event_append
from events.tasks import publish_soon_on_commit

POST_EVENTS = {
    EventType.POST_CREATED: {"kind": "quote"},
    EventType.POST_DELETED: {},
    EventType.POST_VIEWED: {"surface": "api"},
    EventType.POST_LIKED: {},
    EventType.POST_UNLIKED: {},
    EventType.COMMENT_CREATED: {"comment_id": 12},
    EventType.POST_SHARED: {"target": "link"},
}
COMMUNITY_EVENTS = {
    EventType.COMMUNITY_CREATED: {"name": "Jazz", "slug": "jazz"},
    EventType.COMMUNITY_JOINED: {},
    EventType.COMMUNITY_LEFT: {},
}


def test_the_ten_event_types_are_covered():
    assert set(POST_EVENTS) | set(COMMUNITY_EVENTS) == set(EventType.ALL)
    assert len(EventType.ALL) == 10


@pytest.mark.parametrize("event_type", sorted(POST_EVENTS))
def test_post_event_envelope_is_valid_v1(event_type):
    envelope = envelope_build(
        event_type=event_type,
        actor_id=3,
        community_id=5,
        post_id=17,
        payload=POST_EVENTS[event_type],
        occurred_at=datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC),
    )

    envelope_validate(envelope)
    assert envelope["occurred_at"] == "2026-11-30T12:00:00.123Z"
    assert envelope["schema_version"] == 1
    assert uuid.UUID(envelope["event_id"])
    assert envelope_key(envelope) == "17"


@pytest.mark.parametrize("event_type", sorted(COMMUNITY_EVENTS))
def test_community_event_envelope_is_valid_v1(event_type):
    envelope = envelope_build(
        event_type=event_type,
        actor_id=3,
        community_id=5,
        payload=COMMUNITY_EVENTS[event_type],
    )

    envelope_validate(envelope)
    assert envelope["post_id"] is None
    assert envelope_key(envelope) == "5"


def _valid() -> dict:
    return envelope_build(event_type=EventType.POST_LIKED, actor_id=1, community_id=2, post_id=3)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"post_id": None}, "post event without a post"),
        ({"event_type": "community_joined"}, "community event with a post"),
        ({"event_type": "post_bookmarked"}, "unknown type"),
        ({"schema_version": 2}, "other schema version"),
        ({"occurred_at": "2026-11-30T12:00:00Z"}, "no milliseconds"),
        ({"occurred_at": "2026-11-30 12:00:00.000+00:00"}, "not the Z form"),
        ({"event_id": "not-a-uuid"}, "bad event id"),
        ({"actor_id": 0}, "actor id below 1"),
        ({"community_id": "2"}, "community id as a string"),
        ({"payload": []}, "payload not an object"),
        ({"extra": 1}, "field outside the envelope"),
    ],
)
def test_invalid_envelopes_are_rejected(change, why):
    envelope = {**_valid(), **change}

    with pytest.raises(jsonschema.ValidationError):
        envelope_validate(envelope)


def test_missing_field_is_rejected():
    envelope = _valid()
    del envelope["payload"]

    with pytest.raises(jsonschema.ValidationError):
        envelope_validate(envelope)


def test_builder_refuses_unknown_event_types():
    with pytest.raises(ValueError, match="unknown event type"):
        envelope_build(event_type="post_bookmarked", actor_id=1, community_id=2)


@pytest.mark.django_db
def test_event_append_writes_the_row_in_the_callers_transaction():
    with transaction.atomic():
        event = event_append(event_type=EventType.POST_LIKED, actor_id=1, community_id=2, post_id=3)

    row = OutboxEvent.objects.get(pk=event.pk)
    assert row.status == OutboxEvent.Status.PENDING
    assert row.key == "3"
    assert str(row.event_id) == row.envelope["event_id"]
    envelope_validate(row.envelope)


@pytest.mark.django_db
def test_rolled_back_action_leaves_no_event():
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        event_append(event_type=EventType.COMMUNITY_JOINED, actor_id=1, community_id=2)
        raise Boom

    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
def test_event_append_outside_a_transaction_is_refused(django_db_blocker):
    with pytest.raises(RuntimeError, match="inside transaction.atomic"):
        # pytest-django wraps the test in atomic(); leave it to call as a caller without one.
        from django.db import connection

        in_block, connection.in_atomic_block = connection.in_atomic_block, False
        try:
            event_append(event_type=EventType.COMMUNITY_JOINED, actor_id=1, community_id=2)
        finally:
            connection.in_atomic_block = in_block


@pytest.mark.django_db
def test_invalid_event_fails_the_action_and_writes_nothing():
    with pytest.raises(jsonschema.ValidationError), transaction.atomic():
        event_append(event_type=EventType.POST_LIKED, actor_id=1, community_id=2, post_id=None)

    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
def test_commit_queues_one_publisher_run(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        event_append(event_type=EventType.COMMUNITY_JOINED, actor_id=1, community_id=2)

    assert callbacks == [publish_soon_on_commit]


@pytest.mark.parametrize(
    "broker_url",
    [
        "redis://127.0.0.1:1/0",  # nothing listens: refused at once
        "redis://192.0.2.1:6379/0",  # TEST-NET, never answers: the connect timeout applies
    ],
)
def test_queueing_the_publisher_returns_quickly_when_redis_is_unreachable(broker_url):
    code = (
        "import time, django; django.setup();"
        "from events.tasks import publish_soon_on_commit;"
        "t = time.monotonic(); publish_soon_on_commit();"
        "print(round(time.monotonic() - t, 2))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "streamer.settings_test",
        "TEST_CELERY_BROKER_URL": broker_url,
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip().splitlines()[-1]) < 5.0
    assert "could not queue outbox_publish" in done.stderr
    assert time.monotonic() - started < 30


@pytest.mark.django_db
def test_a_transaction_with_many_events_queues_one_publisher_run(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        for actor in range(1, 6):
            event_append(event_type=EventType.COMMUNITY_JOINED, actor_id=actor, community_id=1)
        with transaction.atomic():
            event_append(event_type=EventType.COMMUNITY_LEFT, actor_id=1, community_id=1)

    assert callbacks == [publish_soon_on_commit]


@pytest.mark.django_db
def test_a_rolled_back_savepoint_does_not_take_the_publisher_run_with_it(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        try:
            with transaction.atomic():
                event_append(event_type=EventType.COMMUNITY_JOINED, actor_id=1, community_id=1)
                raise RuntimeError("roll this savepoint back")
        except RuntimeError:
            pass
        event_append(event_type=EventType.COMMUNITY_JOINED, actor_id=2, community_id=1)

    assert callbacks == [publish_soon_on_commit]
