from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError


class Command(BaseCommand):
    help = (
        "Print events from the events topic as they arrive, one line each (for debugging). "
        "Reads without a consumer group, so it never moves anyone's offsets."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--topic", default=None, help="default: KAFKA_EVENTS_TOPIC")
        parser.add_argument(
            "--from-beginning",
            action="store_true",
            help="start at the oldest retained event instead of the next new one",
        )
        parser.add_argument(
            "--limit",
            "--max-messages",
            dest="limit",
            type=int,
            default=None,
            help="stop after this many events",
        )
        parser.add_argument(
            "--idle-timeout",
            type=float,
            default=None,
            help="stop when no event arrived for this many seconds",
        )
        parser.add_argument(
            "--json", action="store_true", help="print each envelope as raw JSON instead"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        topic = options["topic"] or settings.KAFKA_EVENTS_TOPIC
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
                group_id=None,
                enable_auto_commit=False,
                client_id="streamer-tail-events",
            )
        except KafkaError as exc:
            raise CommandError(f"Kafka is not reachable: {exc}") from exc
        try:
            self._tail(consumer, topic, options)
        except KeyboardInterrupt:
            pass
        finally:
            consumer.close()

    def _tail(self, consumer: KafkaConsumer, topic: str, options: dict[str, Any]) -> None:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise CommandError(f"topic {topic} does not exist (run `manage.py kafka_setup`)")
        assigned = [TopicPartition(topic, partition) for partition in sorted(partitions)]
        consumer.assign(assigned)
        if options["from_beginning"]:
            consumer.seek_to_beginning(*assigned)
        else:
            consumer.seek_to_end(*assigned)
        if options["verbosity"] >= 2:
            where = "the beginning" if options["from_beginning"] else "now"
            self.stderr.write(f"tailing {topic} ({len(assigned)} partitions) from {where}")
        limit, idle_timeout = options["limit"], options["idle_timeout"]
        printed = 0
        last_seen = time.monotonic()
        while limit is None or printed < limit:
            batches = consumer.poll(timeout_ms=500)
            records = sorted(
                (record for batch in batches.values() for record in batch),
                key=lambda record: (record.timestamp, record.partition, record.offset),
            )
            for record in records:
                self.stdout.write(self._line(record, raw=options["json"]))
                printed += 1
                if limit is not None and printed >= limit:
                    return
            if records:
                last_seen = time.monotonic()
            elif idle_timeout is not None and time.monotonic() - last_seen >= idle_timeout:
                return

    def _line(self, record: Any, *, raw: bool) -> str:
        try:
            event = json.loads(record.value)
        except ValueError:
            return f"p{record.partition}@{record.offset} <not JSON: {record.value[:80]!r}>"
        if raw:
            return json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        post = event.get("post_id")
        payload = json.dumps(event.get("payload") or {}, ensure_ascii=False, separators=(",", ":"))
        event_type = self.style.SUCCESS(f"{event.get('event_type')!s:<16}")
        post_part = f" post={post}" if post is not None else ""
        return (
            f"{event.get('occurred_at', '?')}  {event_type}  p{record.partition}@{record.offset:<6}"
            f" actor={event.get('actor_id')} community={event.get('community_id')}{post_part}"
            f"  id={str(event.get('event_id', '?'))[:8]}  {payload}"
        )
