from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class DashboardAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with `dashboard.admin_site.StreamerAdminSite` as the default site
    (the stock site plus the Analytics dashboard page). Listed in INSTALLED_APPS in place of
    django.contrib.admin, by its path; `default = False` keeps DashboardConfig the config of
    the "dashboard" entry, through which the dashboard's templates and static files are found."""

    default = False
    default_site = "dashboard.admin_site.StreamerAdminSite"


class DashboardConfig(AppConfig):
    """The analytics dashboard and the /api/v1/analytics/ endpoints: how admins and clients
    see the metrics and predictions `analytics` reads, beside the posts and communities they
    are about."""

    name = "dashboard"
    default = True
