"""The writes of the event pipeline: appending an event to the outbox inside the caller's
transaction, and putting failed rows back to pending. Domain services call `event_append`;
this is the events app's API for them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from events.envelope import envelope_build, envelope_key, envelope_validate
from events.models import OutboxEvent
from events.tasks import publish_soon_on_commit


def event_append(
    *,
    event_type: str,
    actor_id: int,
    community_id: int,
    post_id: int | None = None,
    payload: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> OutboxEvent | None:
    """Append an event to the outbox. The caller must be inside `transaction.atomic()`: the
    event then commits (or rolls back) with the change it describes. After commit, a
    publisher task is queued; if that fails, the periodic sweep publishes the row later.

    Raises jsonschema.ValidationError (before writing anything) when the envelope breaks the
    v1 schema, so an invalid event fails the action that produced it, in tests first.

    With EVENTS_ENABLED off (only for the write-path benchmark) nothing is appended and None
    is returned."""
    if not connection.in_atomic_block:
        raise RuntimeError("event_append must run inside transaction.atomic()")
    if not settings.EVENTS_ENABLED:
        return None
    occurred_at = occurred_at or timezone.now()
    envelope = envelope_build(
        event_type=event_type,
        actor_id=actor_id,
        community_id=community_id,
        post_id=post_id,
        payload=payload,
        occurred_at=occurred_at,
    )
    envelope_validate(envelope)
    event = OutboxEvent.objects.create(
        event_id=envelope["event_id"],
        event_type=event_type,
        key=envelope_key(envelope),
        envelope=envelope,
        occurred_at=occurred_at,
    )
    publish_once_on_commit()
    return event


def publish_once_on_commit() -> None:
    """Queue one publisher run when the current transaction commits, unless this transaction
    queues one already: one run drains every pending row, so a transaction with many events
    needs only one. (A callback of a rolled-back savepoint is dropped from the list by Django
    as it rolls back.)"""
    queued = any(func is publish_soon_on_commit for _, func, _ in connection.run_on_commit)
    if not queued:
        transaction.on_commit(publish_soon_on_commit)


def outbox_retry_failed(*, ids: Iterable[int]) -> int:
    """Put failed rows back to pending (after the cause was fixed) and queue a publisher run.
    Returns how many rows were reset."""
    with transaction.atomic():
        count = OutboxEvent.objects.filter(
            id__in=list(ids), status=OutboxEvent.Status.FAILED
        ).update(status=OutboxEvent.Status.PENDING, last_error="")
        if count:
            publish_once_on_commit()
    return count
