"""Administration of the events topic (kafka-python 3.x admin API): creating and growing it,
its limits, how far a consumer is behind, and whether the brokers answer."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from core.health import one_line


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


def topic_lag(topic: str, consumed: dict[str, int]) -> int:
    """Messages on `topic` at or after the given {partition: next offset} positions."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        client_id="streamer-status",
        request_timeout_ms=5000,
        bootstrap_timeout_ms=3000,
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        latest = consumer.end_offsets(partitions) if partitions else {}
    finally:
        consumer.close()
    return sum(max(0, end - consumed.get(str(tp.partition), 0)) for tp, end in latest.items())


@dataclass(frozen=True)
class TopicHealth:
    """What the brokers say of the events topic: reachable, and its partitions (None when the
    topic is missing)."""

    servers: str
    reachable: bool
    partitions: int | None = None
    error: str = ""

    def describe(self) -> str:
        if not self.reachable:
            return self.error
        if self.partitions is None:
            return f"topic {settings.KAFKA_EVENTS_TOPIC} missing: run `manage.py kafka_setup`"
        return f"topic {settings.KAFKA_EVENTS_TOPIC}: {self.partitions} partitions"


def events_topic_health() -> TopicHealth:
    servers = ",".join(settings.KAFKA_BOOTSTRAP_SERVERS)
    topic = settings.KAFKA_EVENTS_TOPIC
    try:
        admin = admin_client(timeout_ms=3000)
    except KafkaError as exc:
        return TopicHealth(servers, False, error=one_line(exc))
    try:
        topics = {t["name"]: t for t in admin.describe_topics([topic]) if not t.get("error_code")}
    except KafkaError:
        topics = {}
    finally:
        admin.close()
    partitions = len(topics[topic]["partitions"]) if topic in topics else None
    return TopicHealth(servers, True, partitions)
