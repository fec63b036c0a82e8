"""The writes of the event pipeline: appending an event to the outbox inside the caller's
transaction, and putting failed rows back to pending. Domain services call `event_append`;
`events_append` is its batch form. This is the events app's API for them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, NamedTuple

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.utils import timezone

from events.envelope import envelope_build, envelope_key, envelope_serialise, envelope_validate
from events.models import OutboxEvent
from events.tasks import publish_soon_on_commit


@dataclass(frozen=True)
class NewEvent:
    """One event for `events_append`; the arguments of `event_append`."""

    event_type: str
    actor_id: int
    community_id: int
    post_id: int | None = None
    payload: dict[str, Any] | None = None
    occurred_at: datetime | None = None


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
    event = NewEvent(event_type, actor_id, community_id, post_id, payload, occurred_at)
    rows = _outbox_rows([event])
    if not rows:
        return None
    (row,) = rows
    stored = OutboxEvent(
        id=_outbox_insert(rows),
        event_id=uuid.UUID(row.envelope["event_id"]),
        event_type=row.envelope["event_type"],
        key=row.key,
        envelope=row.envelope,
        occurred_at=row.occurred_at,
        created_at=row.created_at,
    )
    stored._state.adding, stored._state.db = False, DEFAULT_DB_ALIAS
    return stored


def events_append(events: Sequence[NewEvent]) -> int:
    """Append many events in their order with one INSERT: the batch form of `event_append`,
    with the same envelope, the same validation (all envelopes are checked before any row is
    written) and the same publisher run after commit. Returns how many rows were written."""
    rows = _outbox_rows(events)
    if rows:
        _outbox_insert(rows)
    return len(rows)


class _OutboxRow(NamedTuple):
    envelope: dict[str, Any]
    key: str
    occurred_at: datetime
    created_at: datetime


def _outbox_rows(events: Iterable[NewEvent]) -> list[_OutboxRow]:
    if not connection.in_atomic_block:
        raise RuntimeError("event_append must run inside transaction.atomic()")
    if not settings.EVENTS_ENABLED:
        return []
    now = timezone.now()
    events = list(events)
    random_bytes = os.urandom(16 * len(events))  # one system call for all the event ids
    rows = []
    for index, event in enumerate(events):
        occurred_at = event.occurred_at or now
        envelope = envelope_build(
            event_type=event.event_type,
            actor_id=event.actor_id,
            community_id=event.community_id,
            post_id=event.post_id,
            payload=event.payload,
            occurred_at=occurred_at,
            event_id=uuid.UUID(bytes=random_bytes[16 * index : 16 * index + 16], version=4),
        )
        envelope_validate(envelope)
        rows.append(_OutboxRow(envelope, envelope_key(envelope), occurred_at, now))
    return rows


OUTBOX_COLUMNS = ("event_id", "event_type", "key", "envelope", "occurred_at", "created_at")


def _db_datetime(moment: datetime, tz: tzinfo) -> str:
    """What Django's adapt_datetimefield_value makes of an aware datetime (naive, in the
    connection's time zone `tz`), at a tenth of its cost."""
    return moment.astimezone(tz).replace(tzinfo=None).isoformat(" ")


def _outbox_insert(rows: list[_OutboxRow]) -> int:
    """INSERT the rows as pending, in order, 1000 a statement; returns the id of the first
    row of the last statement (the row's id for one row). Raw SQL: the ORM's bulk_create
    spends several times the database's own time per row here. The envelope is stored as
    the compact JSON the publisher sends. Queues the publisher run for the commit."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in OUTBOX_COLUMNS)
    pending = OutboxEvent.Status.PENDING
    assert pending.isalpha()  # a constant, written into the statement
    head = (
        f"INSERT INTO {quote(OutboxEvent._meta.db_table)} "  # noqa: S608
        f"({columns}, status, attempts, last_error) VALUES "
    )
    row_sql = f"(%s, %s, %s, %s, %s, %s, '{pending}', 0, '')"
    tz = connection.timezone
    created_at = _db_datetime(rows[0].created_at, tz)
    first_id = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            part = rows[start : start + 1000]
            params = []
            for row in part:
                params += (
                    row.envelope["event_id"],
                    row.envelope["event_type"],
                    row.key,
                    envelope_serialise(row.envelope).decode(),
                    _db_datetime(row.occurred_at, tz),
                    created_at,
                )
            cursor.execute(head + ", ".join([row_sql] * len(part)), params)
            first_id = cursor.lastrowid
    publish_once_on_commit()
    return first_id


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
