from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate


class AnalyticsConfig(AppConfig):
    name = "analytics"

    def ready(self) -> None:
        from analytics.beat import periodic_tasks_ensure_after_migrate

        post_migrate.connect(
            periodic_tasks_ensure_after_migrate,
            sender=self,
            dispatch_uid="analytics.periodic_tasks_ensure",
        )


class StreamerAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with `analytics.dashboard.StreamerAdminSite` as the default site
    (the stock site plus the Analytics dashboard page). Listed in INSTALLED_APPS by its path;
    `default = False` keeps AnalyticsConfig the config of the "analytics" entry."""

    default = False
    default_site = "analytics.dashboard.StreamerAdminSite"
