from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        from events.beat import periodic_tasks_ensure_on_migrate

        post_migrate.connect(
            periodic_tasks_ensure_on_migrate, sender=self, dispatch_uid="events.periodic_tasks"
        )
