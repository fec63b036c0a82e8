"""Test helpers: outbox rows in bulk, reading a topic back with a real consumer, waiting."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone
from kafka import KafkaConsumer, TopicPartition

from analytics.events import EventType, envelope_build, envelope_key
from analytics.models import OutboxEvent


@dataclass(frozen=True)
class Message:
    partition: int
    offset: int
    key: str
    envelope: dict[str, Any]

    @property
    def event_id(self) -> str:
        return self.envelope["event_id"]


def topic_read_all(topic: str, *, timeout: float = 30.0) -> list[Message]:
    """Every message on `topic` up to its end offsets as of now, in (partition, offset) order."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        group_id=None,
        enable_auto_commit=False,
    )
    try:
        numbers = sorted(consumer.partitions_for_topic(topic))
        partitions = [TopicPartition(topic, number) for number in numbers]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end within {timeout}s")
            for batch in consumer.poll(timeout_ms=500).values():
                messages.extend(
                    Message(
                        partition=record.partition,
                        offset=record.offset,
                        key=record.key.decode(),
                        envelope=json.loads(record.value),
                    )
                    for record in batch
                )
        return sorted(messages, key=lambda message: (message.partition, message.offset))
    finally:
        consumer.close()


def topic_end_total(topic: str) -> int:
    """How many messages the topic holds (sum of its partitions' end offsets)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


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


def outbox_rows_create(count: int, *, keys: int = 7, payload_extra: dict | None = None) -> list:
    """Pending rows as event_append writes them, in bulk: post_liked on `keys` posts, with a
    per-key sequence number in the payload to check order on the topic."""
    rows = []
    for n in range(count):
        post_id = n % keys + 1
        envelope = envelope_build(
            event_type=EventType.POST_LIKED,
            actor_id=1,
            community_id=1,
            post_id=post_id,
            payload={"seq": n, **(payload_extra or {})},
        )
        rows.append(
            OutboxEvent(
                event_id=envelope["event_id"],
                event_type=envelope["event_type"],
                key=envelope_key(envelope),
                envelope=envelope,
                occurred_at=timezone.now(),
            )
        )
    return OutboxEvent.objects.bulk_create(rows, batch_size=1000)


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
