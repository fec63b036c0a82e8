from django.core.management.base import BaseCommand, CommandError
from kafka.errors import KafkaError

from events.kafka_admin import events_topic_ensure


class Command(BaseCommand):
    help = "Create the events topic (partitions and retention from settings). Idempotent."

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
        self.stdout.write(f"topic {state.name}: {verb}, {state.partitions} partitions")
