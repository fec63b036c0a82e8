"""Benchmark: the outbox publisher's sustained rate beside a bare kafka-python producer.

    .venv/bin/python bench/outbox_publisher.py [--events 20000] [--batch-size 500] [--rounds 3]
        [--compare-bootstrap 127.0.0.1:9098 [--compare-label "single broker"]]

Both sides send the same messages (same envelopes, keys and serialisation) with the same
producer settings (events.publisher.producer_config: acks=all, idempotence, compression,
linger) to fresh topics with KAFKA_EVENTS_PARTITIONS partitions, and wait for every
acknowledgement. The outbox side is timed from rows pending in the outbox to rows marked
published (claim with SKIP LOCKED, send, ack, mark: OUTBOX_BATCH_SIZE rows a transaction,
claimed and marked in pipelined chunks); inserting the rows (as `events_append` writes them)
is not timed (that cost belongs to the user actions). Each round alternates the two sides;
the median is shown, with the machine's load.

Runs against the configured MariaDB and Kafka, in its own database (bench_<name>, dropped
afterwards) and its own topics (deleted afterwards), so it never touches app data. The topics
get the configured replication factor and min.insync.replicas (KAFKA_EVENTS_REPLICATION_FACTOR,
KAFKA_EVENTS_MIN_INSYNC_REPLICAS: 3 and 2 on the cluster topology, where acks=all then waits
for two copies).

With --compare-bootstrap, the same rounds run a second time against that Kafka (e.g. a single
broker, one copy of each message) and the rates of both are printed side by side.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import arguments, django_database, django_setup, machine_load


def main() -> None:
    parser = arguments(__doc__, events=20_000)
    parser.add_argument("--batch-size", type=int, default=None, help="OUTBOX_BATCH_SIZE")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keys", type=int, default=500, help="distinct posts (message keys)")
    parser.add_argument("--compare-bootstrap", default="", help="a second Kafka to measure")
    parser.add_argument("--compare-label", default="single broker")
    args = parser.parse_args()

    django_setup("kafka")
    from django.conf import settings
    from django.test import override_settings

    batch_size = args.batch_size or settings.OUTBOX_BATCH_SIZE
    with django_database("bench"):
        envelopes = _envelopes(args.events, keys=args.keys)
        results = {"configured Kafka": _measure(envelopes, args, batch_size)}
        if args.compare_bootstrap:
            other = override_settings(
                KAFKA_BOOTSTRAP_SERVERS=args.compare_bootstrap.split(","),
                KAFKA_EVENTS_REPLICATION_FACTOR=1,
                KAFKA_EVENTS_MIN_INSYNC_REPLICAS=1,
            )
            with other:
                results[args.compare_label] = _measure(envelopes, args, batch_size)
    if len(results) > 1:
        print()
        for label, (bare, outbox, layout) in results.items():
            print(f"{label:<18} {layout}: bare {bare:8.0f} events/s, outbox {outbox:8.0f} events/s")
        (base, compared) = results.values()
        print(
            f"ratio configured / {args.compare_label}: bare {base[0] / compared[0]:.2f}, "
            f"outbox {base[1] / compared[1]:.2f}"
        )


def _measure(envelopes: list[dict], args, batch_size: int) -> tuple[float, float, str]:
    """The rounds against the Kafka the settings name now: median bare and outbox rates, and
    the topics' layout."""
    from django.conf import settings

    from events import publisher
    from events.envelope import envelope_serialise
    from events.kafka_admin import topic_delete, topic_ensure

    topics = {side: f"bench.{side}.{uuid.uuid4().hex[:8]}" for side in ("bare", "outbox")}
    for name in topics.values():
        state = topic_ensure(
            name=name, partitions=settings.KAFKA_EVENTS_PARTITIONS, retention_ms=3600_000
        )
    layout = (
        f"{len(settings.KAFKA_BOOTSTRAP_SERVERS)} bootstrap servers, {state.partitions} "
        f"partitions x {state.replication_factor} replicas, min in-sync "
        f"{min(settings.KAFKA_EVENTS_MIN_INSYNC_REPLICAS, state.replication_factor)}, acks=all"
    )
    try:
        size = sum(len(envelope_serialise(e)) for e in envelopes) / len(envelopes)
        print(
            f"{len(envelopes)} events (~{size:.0f} B each, {args.keys} keys), outbox batch "
            f"{batch_size}, compression {settings.KAFKA_PRODUCER_COMPRESSION}, linger "
            f"{settings.KAFKA_PRODUCER_LINGER_MS} ms, {layout}, {args.rounds} rounds; "
            f"{machine_load()}"
        )
        bare_rates, outbox_rates = [], []
        for round_number in range(1, args.rounds + 1):
            bare = _bare_rate(topics["bare"], envelopes)
            outbox = _outbox_rate(topics["outbox"], envelopes, batch_size=batch_size)
            bare_rates.append(bare)
            outbox_rates.append(outbox)
            print(
                f"  round {round_number}: bare {bare:8.0f} events/s   outbox {outbox:8.0f} "
                f"events/s   ratio {outbox / bare:.2f}"
            )
        bare, outbox = statistics.median(bare_rates), statistics.median(outbox_rates)
        print(f"bare kafka-python producer: {bare:8.0f} events/s (median)")
        print(f"outbox publisher:           {outbox:8.0f} events/s (median, outbox -> acked)")
        print(f"ratio outbox / bare:        {outbox / bare:8.2f}")
        print(f"machine: {machine_load()}")
        return bare, outbox, layout
    finally:
        publisher.producer_close()
        for name in topics.values():
            topic_delete(name=name)


def _envelopes(count: int, *, keys: int) -> list[dict]:
    from events.envelope import EventType, envelope_build

    kinds = [EventType.POST_VIEWED] * 6 + [EventType.POST_LIKED] * 3 + [EventType.POST_SHARED]
    return [
        envelope_build(
            event_type=kinds[n % len(kinds)],
            actor_id=n % 977 + 1,
            community_id=n % 37 + 1,
            post_id=n % keys + 1,
            payload={"surface": "web", "kind": "quote", "position": n % 20},
        )
        for n in range(count)
    ]


def _bare_rate(topic: str, envelopes: list[dict]) -> float:
    from kafka import KafkaProducer

    from events.envelope import envelope_key, envelope_serialise
    from events.kafka_admin import topic_max_message_bytes
    from events.publisher import producer_config

    producer = KafkaProducer(
        **producer_config(max_message_bytes=topic_max_message_bytes(name=topic) or 1_048_576)
    )
    try:
        producer.send(topic, key=b"warm-up", value=b"{}").get(timeout=30)
        started = time.perf_counter()
        futures = [
            producer.send(
                topic, key=envelope_key(envelope).encode(), value=envelope_serialise(envelope)
            )
            for envelope in envelopes
        ]
        for future in futures:
            future.get(timeout=60)
        return len(envelopes) / (time.perf_counter() - started)
    finally:
        producer.close(timeout=5)


def _outbox_rate(topic: str, envelopes: list[dict], *, batch_size: int) -> float:
    from django.db import connection

    from events import publisher
    from events.envelope import envelope_key, envelope_serialise
    from events.models import OutboxEvent

    OutboxEvent.objects.all().delete()
    now = timezone_now_db()
    rows = [
        (e["event_id"], e["event_type"], envelope_key(e), envelope_serialise(e).decode(), now, now)
        for e in ({**envelope, "event_id": str(uuid.uuid4())} for envelope in envelopes)
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO analytics_outboxevent (event_id, event_type, `key`, envelope, "
            "occurred_at, created_at, status, attempts, last_error) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(*row, OutboxEvent.Status.PENDING, 0, "") for row in rows],
        )
    handle = publisher.producer_get(topic)
    handle.producer.send(topic, key=b"warm-up", value=b"{}").get(timeout=30)
    started = time.perf_counter()
    result = publisher.outbox_publish_pending(
        batch_size=batch_size, budget_seconds=3600, handle=handle
    )
    elapsed = time.perf_counter() - started
    if result.published != len(envelopes):
        raise SystemExit(f"outbox published {result.published} of {len(envelopes)}: {result}")
    return len(envelopes) / elapsed


def timezone_now_db():
    """Now, naive UTC, as the outbox's datetime columns hold it."""
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(tzinfo=None)


if __name__ == "__main__":
    main()
