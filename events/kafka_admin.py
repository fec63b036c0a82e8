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
    replication_factor: int


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
    replication_factor: int | None = None,
    min_insync_replicas: int | None = None,
    configs: dict[str, str] | None = None,
) -> TopicState:
    """Create the topic if it is missing, or grow its partitions up to `partitions`.

    Idempotent. Partitions are never removed (Kafka cannot), and growing them changes which
    partition a key maps to from then on; that is why it only ever grows on request. The
    replication factor and min.insync.replicas default to the settings
    (KAFKA_EVENTS_REPLICATION_FACTOR, KAFKA_EVENTS_MIN_INSYNC_REPLICAS), so every topic the
    app makes survives what the events topic survives. They, and `configs` (extra topic
    configs such as max.message.bytes), apply only when the topic is created: an existing
    topic keeps its replicas (moving them is a reassignment, an operator's job)."""
    replication_factor = replication_factor or settings.KAFKA_EVENTS_REPLICATION_FACTOR
    min_insync = min_insync_replicas or settings.KAFKA_EVENTS_MIN_INSYNC_REPLICAS
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
                        topic_configs={
                            "retention.ms": str(retention_ms),
                            "min.insync.replicas": str(min(min_insync, replication_factor)),
                            **(configs or {}),
                        },
                    )
                ]
            )
            created = True
        except TopicAlreadyExistsError:
            pass
        admin.wait_for_topics([name])
        (described,) = admin.describe_topics([name])
        current = len(described["partitions"])
        replicas = max((len(p["replica_nodes"]) for p in described["partitions"]), default=0)
        added = 0
        if current < partitions:
            admin.create_partitions({name: NewPartitions(total_count=partitions)})
            added = partitions - current
            current = partitions
        return TopicState(
            name=name,
            partitions=current,
            created=created,
            partitions_added=added,
            replication_factor=replicas,
        )
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
        return _topic_config_int(admin, name, "max.message.bytes")
    finally:
        admin.close()


def _topic_config_int(admin: KafkaAdminClient, name: str, key: str) -> int | None:
    """A topic's effective integer config (its own or the broker default); None if unsaid."""
    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, configs={key: None})],
        config_filter="all",
    )
    entry = described.get("topic", {}).get(name, {}).get(key)
    return int(entry["value"]) if entry and entry.get("value") else None


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
class KafkaHealth:
    """What the brokers say of themselves and of the events topic.

    `brokers_down` are the nodes that hold a replica of the topic, or are registered but
    fenced, and are not serving. A partition is under-replicated when its in-sync replicas
    are fewer than its replicas; below its min.insync.replicas an acks=all write to it fails;
    offline, it has no leader at all."""

    servers: str
    reachable: bool
    error: str = ""
    brokers_up: tuple[int, ...] = ()
    brokers_down: tuple[int, ...] = ()
    topic: str = ""
    topic_found: bool = False
    partitions: int = 0
    replication_factor: int = 0
    min_insync_replicas: int | None = None
    under_replicated: int = 0
    below_min_isr: int = 0
    offline: int = 0

    def describe(self) -> str:
        if not self.reachable:
            return self.error
        total = len(self.brokers_up) + len(self.brokers_down)
        brokers = f"{len(self.brokers_up)} of {total} brokers up"
        if self.brokers_down:
            brokers += f" (down: {', '.join(map(str, self.brokers_down))})"
        if not self.topic_found:
            return f"{brokers}; topic {self.topic} missing: run `manage.py kafka_setup`"
        topic = (
            f"topic {self.topic}: {self.partitions} partitions x {self.replication_factor} "
            f"replicas (min in-sync {self.min_insync_replicas or '?'}), "
            f"{self.under_replicated} under-replicated"
        )
        if self.below_min_isr:
            topic += f", {self.below_min_isr} below min in-sync (acks=all writes fail)"
        if self.offline:
            topic += f", {self.offline} offline"
        return f"{brokers}; {topic}"


def kafka_health(*, timeout_ms: int = 3000) -> KafkaHealth:
    """Describe the cluster and the events topic (three short admin requests)."""
    servers = ",".join(settings.KAFKA_BOOTSTRAP_SERVERS)
    topic = settings.KAFKA_EVENTS_TOPIC
    try:
        admin = admin_client(timeout_ms=timeout_ms)
    except KafkaError as exc:
        return KafkaHealth(servers, False, error=one_line(exc), topic=topic)
    try:
        cluster = admin.describe_cluster()
        described = [t for t in admin.describe_topics([topic]) if not t.get("error_code")]
        min_insync = _topic_config_int(admin, topic, "min.insync.replicas") if described else None
    except KafkaError as exc:
        return KafkaHealth(servers, False, error=one_line(exc), topic=topic)
    finally:
        admin.close()
    serving = {b["broker_id"] for b in cluster["brokers"] if not b.get("is_fenced")}
    known = {b["broker_id"] for b in cluster["brokers"]}
    partitions = described[0]["partitions"] if described else []
    for partition in partitions:
        known.update(partition["replica_nodes"])
    isr_floor = min_insync or 1
    return KafkaHealth(
        servers,
        True,
        brokers_up=tuple(sorted(serving)),
        brokers_down=tuple(sorted(known - serving)),
        topic=topic,
        topic_found=bool(described),
        partitions=len(partitions),
        replication_factor=max((len(p["replica_nodes"]) for p in partitions), default=0),
        min_insync_replicas=min_insync,
        under_replicated=sum(len(p["isr_nodes"]) < len(p["replica_nodes"]) for p in partitions),
        below_min_isr=sum(len(p["isr_nodes"]) < isr_floor for p in partitions),
        offline=sum(p["leader_id"] < 0 for p in partitions),
    )
