"""Reading a topic back with a real consumer."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from kafka import KafkaConsumer, TopicPartition


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
