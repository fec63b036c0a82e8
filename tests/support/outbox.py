"""Reading the outbox back: envelopes in append order (each checked against the v1 schema),
and the order checks for what the publisher put on the topic."""

from __future__ import annotations

from typing import Any

from events.envelope import envelope_validate
from events.models import OutboxEvent
from tests.support.kafka import Message


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


def keys_in_order(messages: list[Message]) -> dict[str, list[int]]:
    """For each key, the `seq` payload values in topic order (first copy of each event)."""
    seen: set[str] = set()
    order: dict[str, list[int]] = {}
    for message in sorted(messages, key=lambda m: (m.partition, m.offset)):
        if message.event_id in seen:
            continue
        seen.add(message.event_id)
        order.setdefault(message.key, []).append(message.envelope["payload"]["seq"])
    return order


def assert_per_key_order(messages) -> None:
    for key, seqs in keys_in_order(messages).items():
        assert seqs == sorted(seqs), f"key {key} out of order"


def assert_topic_order_matches_outbox(messages: list[Message]) -> None:
    """Per key, the first copy of each event on the topic comes in outbox (id) order."""
    seen: set[str] = set()
    on_topic: dict[str, list[str]] = {}
    for message in sorted(messages, key=lambda m: (m.partition, m.offset)):
        if message.event_id not in seen:
            seen.add(message.event_id)
            on_topic.setdefault(message.key, []).append(message.event_id)
    in_outbox: dict[str, list[str]] = {}
    for key, event_id in OutboxEvent.objects.order_by("id").values_list("key", "event_id"):
        if str(event_id) in seen:
            in_outbox.setdefault(key, []).append(str(event_id))
    assert on_topic == in_outbox
