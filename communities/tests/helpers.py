"""Test data built through the real services (Zulip style), shared by communities/ and posts/."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth import get_user_model

from analytics.events import envelope_validate
from analytics.models import OutboxEvent
from communities.models import Community
from communities.services import community_create

PASSWORD = "correct-horse-battery-9"
_counter = itertools.count(1)


def user_make(username: str | None = None, **extra: Any):
    username = username or f"person{next(_counter)}"
    return get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)


def community_make(owner=None, name: str | None = None, **extra: Any) -> Community:
    name = name or f"Community {next(_counter)}"
    return community_create(creator=owner or user_make(), name=name, **extra)


def events(event_type: str | None = None) -> list[dict[str, Any]]:
    """Outbox envelopes in append order, each validated against the v1 schema."""
    rows = OutboxEvent.objects.order_by("id")
    if event_type is not None:
        rows = rows.filter(event_type=event_type)
    envelopes = [row.envelope for row in rows]
    for envelope in envelopes:
        envelope_validate(envelope)
    return envelopes


def event_count() -> int:
    return OutboxEvent.objects.count()
