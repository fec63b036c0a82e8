"""The "Analytics" page of the Django admin, and the admin site that carries it.

`StreamerAdminSite` is the project's default admin site (see `dashboard.apps.
DashboardAdminConfig`): the stock site plus one URL, `admin/analytics/dashboard/`, and an
"Analytics dashboard" entry at the top of the Analytics app in the index and the sidebar.
The page itself is a shell: its script loads every figure from /api/v1/analytics/* with the
admin's session and refreshes them in place."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.views.generic import RedirectView

from analytics.selectors.health import outbox_thresholds
from communities.selectors import community_list_largest

DASHBOARD_URL_NAME = "analytics_dashboard"
DASHBOARD_COMMUNITIES = 200


class StreamerAdminSite(admin.AdminSite):
    site_header = "Streamer administration"
    site_title = "Streamer admin"
    index_title = "Site administration"

    def get_urls(self) -> list[URLPattern]:
        dashboard = path(
            "analytics/dashboard/",
            self.admin_view(self.analytics_dashboard_view),
            name=DASHBOARD_URL_NAME,
        )
        # The outbox list moved with the outbox to the events app; old links still work.
        outbox_moved = path(
            "analytics/outboxevent/",
            RedirectView.as_view(pattern_name=f"{self.name}:events_outboxevent_changelist"),
        )
        return [dashboard, outbox_moved, *super().get_urls()]

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, Any]]:
        app_list = super().get_app_list(request, app_label)
        if not request.user.is_staff or app_label not in (None, "analytics"):
            return app_list
        try:
            url = reverse(f"{self.name}:{DASHBOARD_URL_NAME}", current_app=self.name)
        except NoReverseMatch:
            return app_list
        entry = {
            "name": "Analytics dashboard",
            "object_name": "AnalyticsDashboard",
            "perms": {"add": False, "change": False, "delete": False, "view": True},
            "admin_url": url,
            "add_url": None,
            "view_only": True,
        }
        app = next((a for a in app_list if a["app_label"] == "analytics"), None)
        if app is None:
            app = {
                "name": "Analytics",
                "app_label": "analytics",
                "app_url": reverse(
                    f"{self.name}:app_list",
                    kwargs={"app_label": "analytics"},
                    current_app=self.name,
                ),
                "has_module_perms": True,
                "models": [],
            }
            app_list.append(app)
            app_list.sort(key=lambda a: a["name"].lower())
        app["models"].insert(0, entry)
        return app_list

    def analytics_dashboard_view(self, request: HttpRequest) -> HttpResponse:
        request.current_app = self.name
        context = {
            **self.each_context(request),
            "title": "Analytics",
            "subtitle": None,
            "communities": community_list_largest(limit=DASHBOARD_COMMUNITIES),
            "config": {
                "refreshSeconds": settings.ANALYTICS_DASHBOARD_REFRESH_SECONDS,
                "urls": {
                    "summary": reverse("api-analytics-summary"),
                    "site": reverse("api-analytics-site-engagement"),
                    "community": reverse(
                        "api-analytics-community-engagement", kwargs={"slug": "SLUG"}
                    ),
                    "top": reverse("api-analytics-top"),
                    "modelRuns": reverse("api-analytics-model-runs"),
                    "predictions": reverse("api-analytics-predictions"),
                    "deadLetters": reverse(
                        f"{self.name}:analytics_engagementdeadletter_changelist"
                    ),
                    "sparkBatches": reverse(f"{self.name}:analytics_sparkbatch_changelist"),
                    "outbox": reverse(f"{self.name}:events_outboxevent_changelist"),
                    "sparkMaster": settings.SPARK_MASTER_UI_URL,
                },
            },
            "thresholds": {
                "outbox_amber": outbox_thresholds()[0],
                "outbox_red": outbox_thresholds()[1],
                "spark_lag_amber": settings.ANALYTICS_SPARK_LAG_AMBER_EVENTS,
                "spark_lag_red": settings.ANALYTICS_SPARK_LAG_RED_EVENTS,
                "spark_stale_amber": settings.ANALYTICS_SPARK_STALE_AMBER_SECONDS,
                "spark_stale_red": settings.ANALYTICS_SPARK_STALE_RED_SECONDS,
                "dead_amber": settings.ANALYTICS_DEAD_LETTERS_AMBER,
                "dead_red": settings.ANALYTICS_DEAD_LETTERS_RED,
            },
        }
        return TemplateResponse(request, "admin/analytics/dashboard.html", context)
