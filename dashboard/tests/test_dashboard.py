"""The admin "Analytics" page (the shell its script fills from the API), its entry in the
admin index and sidebar, and the read-only admin lists of the analytics tables."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client, override_settings
from django.utils import timezone

from analytics.models import (
    CommunityEngagement,
    CommunityTrend,
    EngagementDeadLetter,
    ModelRun,
    PostEngagement,
    PredictionRun,
    SparkBatch,
    TrendPrediction,
)
from tests.factories import Activity, community_make, metric_rows_load, user_make

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = "/admin/analytics/dashboard/"
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def superuser_client() -> Client:
    client = Client()
    client.force_login(user_make("root", is_staff=True, is_superuser=True))
    return client


def test_admin_index_and_sidebar_link_the_dashboard(superuser_client):
    index = superuser_client.get("/admin/").content.decode()
    assert f'<a href="{DASHBOARD}">Analytics dashboard</a>' in index

    page = superuser_client.get("/admin/analytics/sparkbatch/").content.decode()
    sidebar = page[page.index('id="nav-sidebar"') :]
    assert f'href="{DASHBOARD}"' in sidebar

    app_index = superuser_client.get("/admin/analytics/").content.decode()
    assert "Analytics dashboard" in app_index


def test_staff_without_model_permissions_still_gets_the_dashboard_entry():
    client = Client()
    client.force_login(user_make("helper", is_staff=True))
    assert f'href="{DASHBOARD}"' in client.get("/admin/").content.decode()
    assert client.get(DASHBOARD).status_code == 200


def test_dashboard_page_is_an_admin_page_fed_by_the_api(superuser_client):
    community_make(name="Jazz Lovers")
    response = superuser_client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()

    assert "<title>Analytics | " in html
    assert 'id="nav-sidebar"' in html  # same navigation as the rest of the admin
    assert '<div class="breadcrumbs">' in html
    assert '<script src="/static/vendor/chart.umd.min.js" defer></script>' in html
    assert '<script src="/static/analytics/dashboard.js" defer></script>' in html
    assert "cdn" not in html.lower()
    assert '<option value="jazz-lovers">Jazz Lovers</option>' in html

    config = json.loads(
        re.search(r'<script id="analytics-config" type="application/json">(.*?)</script>', html)[1]
    )
    assert config["refreshSeconds"] == 5
    assert config["urls"]["summary"] == "/api/v1/analytics/summary/"
    assert config["urls"]["site"] == "/api/v1/analytics/engagement/"
    assert config["urls"]["community"] == "/api/v1/analytics/communities/SLUG/engagement/"
    assert config["urls"]["top"] == "/api/v1/analytics/top/"
    assert config["urls"]["modelRuns"] == "/api/v1/analytics/model-runs/"
    assert config["urls"]["predictions"] == "/api/v1/analytics/predictions/"
    for section in ("Pipeline health", "Engagement over time", "Top communities", "Top posts"):
        assert section in html
    assert "Trending posts: predicted vs actual" in html
    assert "Model runs: model vs baselines" in html
    for url in config["urls"].values():
        if url.startswith("/api/"):
            assert superuser_client.get(url.replace("SLUG", "jazz-lovers")).status_code == 200


@override_settings(
    ANALYTICS_DASHBOARD_REFRESH_SECONDS=2,
    OUTBOX_LAG_ALERT_SECONDS=44,
    ANALYTICS_SPARK_LAG_RED_EVENTS=4242,
)
def test_dashboard_takes_refresh_and_thresholds_from_settings(superuser_client):
    html = superuser_client.get(DASHBOARD).content.decode()
    assert '"refreshSeconds": 2' in html
    assert "is 11/44 s old" in html
    assert "1000/4242 events behind" in html


def test_dashboard_is_for_staff_only():
    anonymous = Client().get(DASHBOARD)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/admin/login/")

    member = Client()
    member.force_login(user_make("member"))
    response = member.get(DASHBOARD)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_chart_js_is_vendored_from_npm_with_its_license():
    package = json.loads((REPO / "package.json").read_text())
    version = package["dependencies"]["chart.js"]
    assert re.fullmatch(r"4\.\d+\.\d+", version)  # pinned exactly
    bundle = (REPO / "static" / "vendor" / "chart.umd.min.js").read_text()
    assert f"Chart.js v{version}" in bundle[:200]
    assert "MIT" in (REPO / "static" / "vendor" / "chart.js.LICENSE.md").read_text()
    assert "node_modules/chart.js/dist/chart.umd.min.js" in (REPO / "Makefile").read_text()


# --- read-only admin lists ----------------------------------------------------------------


@pytest.fixture
def analytics_rows():
    metric_rows_load(
        [
            Activity(T0, community_id=7, actor_id=1, post_id=70, views=3, likes=1),
            Activity(T0 + timedelta(minutes=1), community_id=7, actor_id=2, post_id=71, shares=1),
        ]
    )
    EngagementDeadLetter.objects.create(
        topic="streamer.events",
        partition=1,
        offset=42,
        raw_key=b"70",
        raw_value=b'{"event_type": oops',
        error="malformed JSON",
        received_at=T0,
    )
    SparkBatch.objects.create(
        query_name="engagement",
        query_id="0b5a1f3e-0000-4000-8000-000000000001",
        batch_id=3,
        topic="streamer.events",
        end_offsets={"0": 10},
        message_count=10,
        output_rows=2,
        applied_at=T0,
    )


READ_ONLY_MODELS = [
    PostEngagement,
    CommunityEngagement,
    EngagementDeadLetter,
    SparkBatch,
    ModelRun,
    PredictionRun,
    TrendPrediction,
    CommunityTrend,
]


@pytest.mark.parametrize("model", READ_ONLY_MODELS, ids=lambda m: m.__name__)
def test_analytics_tables_have_read_only_admin_lists(model, analytics_rows, superuser_client):
    model_admin = admin.site._registry[model]
    assert model_admin.date_hierarchy
    assert model_admin.list_filter
    assert model_admin.search_fields
    base = f"/admin/analytics/{model._meta.model_name}/"

    response = superuser_client.get(base, follow=True)
    assert response.status_code == 200
    cl = response.context["cl"]
    assert cl.date_hierarchy and cl.search_fields and cl.list_filter
    assert response.context["has_add_permission"] is False
    assert 'id="searchbar"' in response.content.decode()
    assert superuser_client.get(base + "add/").status_code == 403

    row = model.objects.first()
    if row is not None:
        change = superuser_client.get(f"{base}{row.pk}/change/")
        assert change.status_code == 200
        assert 'name="_save"' not in change.content.decode()
        assert superuser_client.post(f"{base}{row.pk}/delete/").status_code == 403


def test_metric_lists_open_on_the_day_rollups(analytics_rows, superuser_client):
    response = superuser_client.get("/admin/analytics/postengagement/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/analytics/postengagement/?grain__exact=day"

    day = superuser_client.get(response["Location"])
    assert day.context["cl"].result_count == 2  # posts 70 and 71, one day row each
    window = superuser_client.get("/admin/analytics/postengagement/?grain__exact=window")
    assert window.status_code == 302
    today = timezone.now()
    assert window["Location"] == (
        "/admin/analytics/postengagement/?grain__exact=window&window_start__year="
        f"{today.year}&window_start__month={today.month}&window_start__day={today.day}"
    )
    on_the_day = superuser_client.get(
        "/admin/analytics/postengagement/?grain__exact=window"
        "&window_start__year=2026&window_start__month=11&window_start__day=30"
    )
    assert on_the_day.context["cl"].result_count == 2
    searched = superuser_client.get("/admin/analytics/postengagement/?grain__exact=hour&q=71")
    assert [row.post_id for row in searched.context["cl"].result_list] == [71]


def test_dead_letter_detail_shows_the_raw_message(analytics_rows, superuser_client):
    row = EngagementDeadLetter.objects.get()
    html = superuser_client.get(
        f"/admin/analytics/engagementdeadletter/{row.pk}/change/"
    ).content.decode()
    assert "malformed JSON" in html
    assert "{&quot;event_type&quot;: oops" in html
    found = superuser_client.get("/admin/analytics/engagementdeadletter/?q=malformed")
    assert found.context["cl"].result_count == 1


def test_read_only_lists_need_the_view_permission():
    client = Client()
    helper = user_make("viewer", is_staff=True)
    client.force_login(helper)
    assert client.get("/admin/analytics/sparkbatch/").status_code == 403
    helper.user_permissions.add(Permission.objects.get(codename="view_sparkbatch"))
    assert client.get("/admin/analytics/sparkbatch/").status_code == 200
