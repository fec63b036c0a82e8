"""Topic administration for the events topic (kafka-python 3.x admin API)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import TopicAlreadyExistsError


@dataclass(frozen=True)
class TopicState:
    name: str
    partitions: int
    created: bool
    partitions_added: int


def admin_client(*, timeout_ms: int | None = None) -> KafkaAdminClient:
    """An admin client; with `timeout_ms`, connecting and each request give up after it."""
    limits = {}
    if timeout_ms is not None:
        limits = {"bootstrap_timeout_ms": timeout_ms, "request_timeout_ms": timeout_ms}
    return KafkaAdminClient(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, client_id="streamer-admin", **limits
    )


def topic_ensure(
    *,
    name: str,
    partitions: int,
    retention_ms: int,
    replication_factor: int = 1,
    configs: dict[str, str] | None = None,
) -> TopicState:
    """Create the topic if it is missing, or grow its partitions up to `partitions`.

    Idempotent. Partitions are never removed (Kafka cannot), and growing them changes which
    partition a key maps to from then on; that is why it only ever grows on request. `configs`
    (extra topic configs such as max.message.bytes) apply only when the topic is created."""
    admin = admin_client()
    try:
        created = False
        try:
            admin.create_topics(
                [
                    NewTopic(
                        name=name,
                        num_partitions=partitions,
                        replication_factor=replication_factor,
                        topic_configs={"retention.ms": str(retention_ms), **(configs or {})},
                    )
                ]
            )
            created = True
        except TopicAlreadyExistsError:
            pass
        admin.wait_for_topics([name])
        current = _partition_count(admin, name)
        added = 0
        if current < partitions:
            admin.create_partitions({name: NewPartitions(total_count=partitions)})
            added = partitions - current
            current = partitions
        return TopicState(name=name, partitions=current, created=created, partitions_added=added)
    finally:
        admin.close()


def topic_delete(*, name: str) -> None:
    admin = admin_client()
    try:
        admin.delete_topics([name])
    finally:
        admin.close()


def topic_max_message_bytes(*, name: str, timeout_ms: int = 5000) -> int | None:
    """The topic's effective max.message.bytes (its own setting or the broker default), or
    None when the broker does not say."""
    admin = admin_client(timeout_ms=timeout_ms)
    try:
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, configs={"max.message.bytes": None})],
            config_filter="all",
        )
    finally:
        admin.close()
    entry = described.get("topic", {}).get(name, {}).get("max.message.bytes")
    return int(entry["value"]) if entry and entry.get("value") else None


def _partition_count(admin: KafkaAdminClient, name: str) -> int:
    (described,) = admin.describe_topics([name])
    return len(described["partitions"])


def events_topic_ensure() -> TopicState:
    return topic_ensure(
        name=settings.KAFKA_EVENTS_TOPIC,
        partitions=settings.KAFKA_EVENTS_PARTITIONS,
        retention_ms=settings.KAFKA_EVENTS_RETENTION_MS,
    )
