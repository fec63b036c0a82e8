"""The event envelope (v1) and the one way to emit an event: append it to the outbox inside
the caller's transaction. See ../shared/DESIGN.md, "Event envelope (v1)"."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from analytics.models import OutboxEvent

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "event_envelope.v1.json"


class EventType:
    COMMUNITY_CREATED = "community_created"
    COMMUNITY_JOINED = "community_joined"
    COMMUNITY_LEFT = "community_left"
    POST_CREATED = "post_created"
    POST_DELETED = "post_deleted"
    POST_VIEWED = "post_viewed"
    POST_LIKED = "post_liked"
    POST_UNLIKED = "post_unliked"
    COMMENT_CREATED = "comment_created"
    POST_SHARED = "post_shared"

    ALL = (
        COMMUNITY_CREATED, COMMUNITY_JOINED, COMMUNITY_LEFT, POST_CREATED, POST_DELETED,
        POST_VIEWED, POST_LIKED, POST_UNLIKED, COMMENT_CREATED, POST_SHARED,
    )  # fmt: skip


def format_event_time(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a Z, e.g. 2026-11-30T12:00:00.123Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def envelope_build(
    *,
    event_type: str,
    actor_id: int,
    community_id: int,
    post_id: int | None = None,
    payload: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    if event_type not in EventType.ALL:
        raise ValueError(f"unknown event type {event_type!r}")
    return {
        "event_id": str(event_id or uuid.uuid4()),
        "event_type": event_type,
        "schema_version": SCHEMA_VERSION,
        "occurred_at": format_event_time(occurred_at or timezone.now()),
        "actor_id": actor_id,
        "community_id": community_id,
        "post_id": post_id,
        "payload": payload or {},
    }


def envelope_key(envelope: dict[str, Any]) -> str:
    """Partition key: the post when there is one, else the community, so each entity's
    events stay in order on one partition."""
    post_id = envelope.get("post_id")
    return str(post_id if post_id is not None else envelope["community_id"])


@cache
def envelope_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


@cache
def _envelope_validator() -> Any:
    import jsonschema

    schema = envelope_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def envelope_validate(envelope: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when the envelope breaks the v1 contract."""
    import jsonschema

    error = jsonschema.exceptions.best_match(_envelope_validator().iter_errors(envelope))
    if error is not None:
        raise error


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
    if not _publish_already_queued_on_commit():
        transaction.on_commit(publish_soon_on_commit)
    return event


def _publish_already_queued_on_commit() -> bool:
    """Whether this transaction will already queue a publisher run when it commits. One run
    drains every pending row, so a transaction with many events needs only one. (A callback
    of a rolled-back savepoint is dropped from this list by Django as it rolls back.)"""
    return any(func is publish_soon_on_commit for _, func, _ in connection.run_on_commit)


def publish_soon_on_commit() -> None:
    """Queue one publisher run, without waiting on Kafka (the worker publishes) and without
    retrying the Redis publish (the sweep covers a lost run), so a broker outage costs the
    request at most one connect timeout (CELERY_BROKER_CONNECTION_TIMEOUT). event_append
    queues it once per transaction; the publisher drains everything pending."""
    from analytics.tasks import outbox_publish

    try:
        outbox_publish.apply_async(retry=False)
    except Exception:  # noqa: BLE001 - the broker being down must not fail the user's action
        logger.warning("could not queue outbox_publish; the periodic sweep will publish")
