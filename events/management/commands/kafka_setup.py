from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from kafka.errors import KafkaError

from events.kafka_admin import events_topic_ensure


class Command(BaseCommand):
    help = (
        "Create the events topic (partitions, replication factor, min.insync.replicas and "
        "retention from settings). Idempotent."
    )

    def handle(self, *args, **options) -> None:
        try:
            state = events_topic_ensure()
        except KafkaError as exc:
            raise CommandError(f"Kafka is not reachable or refused the topic: {exc}") from exc
        if state.created:
            verb = "created"
        elif state.partitions_added:
            verb = f"grown by {state.partitions_added} partitions"
        else:
            verb = "already present"
        self.stdout.write(
            f"topic {state.name}: {verb}, {state.partitions} partitions, "
            f"{state.replication_factor} replicas"
        )
        if state.replication_factor != settings.KAFKA_EVENTS_REPLICATION_FACTOR:
            self.stderr.write(
                f"warning: the settings ask for {settings.KAFKA_EVENTS_REPLICATION_FACTOR} "
                "replicas; an existing topic keeps its own (reassign its partitions, or "
                "delete and recreate it)"
            )
