from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AnalyticsConfig(AppConfig):
    name = "analytics"

    def ready(self) -> None:
        from analytics.beat import periodic_tasks_ensure_on_migrate

        post_migrate.connect(
            periodic_tasks_ensure_on_migrate, sender=self, dispatch_uid="analytics.periodic_tasks"
        )
