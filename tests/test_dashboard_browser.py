"""The admin Analytics page in real headless Chromium: a staff user signs in, the page loads
its figures from the analytics API, draws its charts with the locally served Chart.js and
refreshes itself without a reload. A screenshot goes to test-artifacts/ (git-ignored)."""

from __future__ import annotations

import math
import os
import random
import time
from datetime import UTC, datetime, timedelta

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test
# (and the live server) are still plain synchronous calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from django.db.models import Sum
from playwright.sync_api import Page, expect, sync_playwright

from tests.factories import PASSWORD
from tests.support.browser import csp_violations_watch
from tests.test_browser import ARTIFACTS, CHROMIUM_ARGS

NOW = datetime.now(UTC).replace(second=30, microsecond=0)
MINUTE = NOW.replace(second=0)

COMMUNITIES = {
    "Photography": ["Golden hour over the harbour", "Fog in the pines at dawn", "Night market"],
    "Science": [
        "Why the sky is blue, in one picture",
        "A tardigrade up close",
        "The James Webb deep field, annotated",
    ],
    "Music": [
        "Bach on a rainy afternoon",
        "The bassline that started it all",
        "Field recording: a tram at midnight",
    ],
    "Cooking": ["Sourdough, day three", "Ten-minute ramen upgrade", "Grandma's lemon tart"],
}


@pytest.fixture
def frozen_now(monkeypatch):
    """The server's clock stops at NOW, so the expected KPIs cannot drift while the page
    refreshes (events per minute slide with every minute)."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


@pytest.fixture
def page(live_server, frozen_now):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        context.set_default_timeout(20_000)
        page = context.new_page()
        blocked = csp_violations_watch(page)
        yield page
        assert blocked == [], f"the Content Security Policy blocked: {blocked}"
        context.close()
        browser.close()


def activities_make(communities, posts) -> list:
    """A month of plausible engagement: busier in the evening (UTC), a few posts popular."""
    from tests.factories import Activity

    rng = random.Random(8)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(posts))]
    activities = []

    def act(minute: datetime, n: int) -> None:
        for post in rng.choices(posts, weights=weights, k=n):
            activities.append(
                Activity(
                    minute,
                    post.community_id,
                    actor_id=1000 + rng.randrange(140),
                    post_id=post.pk,
                    views=rng.randint(1, 9),
                    likes=int(rng.random() < 0.45) + int(rng.random() < 0.1),
                    unlikes=int(rng.random() < 0.03),
                    comments=int(rng.random() < 0.22),
                    shares=int(rng.random() < 0.07),
                )
            )

    def rhythm(moment: datetime) -> float:
        return 0.6 + 0.5 * (1 + math.sin((moment.hour - 13) / 24 * 2 * math.pi))

    for minutes_ago in range(1, 48 * 60):
        minute = MINUTE - timedelta(minutes=minutes_ago)
        act(minute, round(1.6 * rhythm(minute) * rng.random() * 2))
    for days_ago in range(2, 31):
        for _ in range(40):
            minute = MINUTE - timedelta(days=days_ago, minutes=rng.randrange(24 * 60))
            act(minute, rng.randint(1, 4))
    for community in communities:
        activities.append(
            Activity(
                MINUTE - timedelta(minutes=rng.randint(2, 5)),
                community.pk,
                actor_id=2000 + community.pk,
                posts_created=1,
                members_joined=2,
            )
        )
    return activities


def trend_rows_make(posts) -> None:
    """Four model runs, each better than the last, and one batch of predictions."""
    from analytics.models import ModelRun, PredictionRun, TrendPrediction

    live = None
    for n, (model, persistence, szabo) in enumerate(
        [(0.91, 0.98, 0.93), (0.84, 0.97, 0.9), (0.78, 0.95, 0.88), (0.71, 0.96, 0.86)]
    ):
        started = NOW - timedelta(hours=4 - n)
        live = ModelRun.objects.create(
            version=f"2026.{n + 1}",
            status="succeeded",
            started_at=started,
            trained_at=started + timedelta(seconds=50),
            duration_seconds=50.0,
            horizon_minutes=60,
            algorithm="hurdle",
            training_rows=4000 + 900 * n,
            holdout_rows=1000,
            promoted=model < persistence,
            metrics={
                "model": {
                    "mae_log1p": model,
                    "spearman": 0.5 + 0.05 * n,
                    "precision_at_10": 0.5,
                    "ndcg_at_10": 0.8,
                },
                "persistence": {"mae_log1p": persistence, "spearman": 0.41, "ndcg_at_10": 0.7},
                "szabo_huberman": {"mae_log1p": szabo, "spearman": 0.47, "ndcg_at_10": 0.6},
            },
            params={
                "trigger": "schedule",
                "models": {
                    "hurdle": {
                        "feature_importances": {
                            "chance": {"log_decayed_actions_60m": 0.6, "log_age_minutes": 0.4},
                            "size": {"log_actions_60m": 1.0},
                        }
                    }
                },
            },
        )
    run = PredictionRun.objects.create(
        model_run=live, status="succeeded", started_at=MINUTE, as_of=MINUTE - timedelta(minutes=30)
    )
    for rank, post in enumerate(posts[:6], start=1):
        TrendPrediction.objects.create(
            run=run,
            model_run=live,
            post=post,
            predicted_engagement=round(60 / rank + 3, 1),
            last_hour_engagement=20 / rank,
            trend_score=round(1.5 - rank * 0.2, 2),
            rank=rank,
            as_of=run.as_of,
            generated_at=MINUTE,
        )


@pytest.fixture
def dashboard_data(transactional_db, kafka_topic, settings):
    from analytics.models import EngagementDeadLetter, SparkBatch
    from communities.services import community_join
    from posts.services import post_create
    from tests.factories import community_make, metric_rows_load, user_make

    settings.KAFKA_EVENTS_TOPIC = kafka_topic  # the Kafka card describes this topic

    owner = user_make("curator")
    communities, posts = [], []
    for name, texts in COMMUNITIES.items():
        community = community_make(owner=owner, name=name)
        communities.append(community)
        for text in texts:
            posts.append(post_create(author=owner, community=community, kind="quote", text=text))
    for n in range(12):
        community_join(user=user_make(f"reader{n}"), community=communities[n % 3])
    rng = random.Random(3)
    rng.shuffle(posts)
    activities = activities_make(communities, posts)
    metric_rows_load(activities)
    trend_rows_make(posts)
    SparkBatch.objects.create(
        query_name="engagement",
        query_id="6d1c1a7e-0000-4000-8000-000000000001",
        batch_id=812,
        topic=kafka_topic,
        end_offsets={"0": 0, "1": 0},
        message_count=35,
        output_rows=35,
        applied_at=NOW - timedelta(seconds=4),
    )
    EngagementDeadLetter.objects.create(
        topic=kafka_topic,
        partition=0,
        offset=7,
        raw_value=b"not json",
        error="malformed JSON",
        received_at=NOW - timedelta(hours=3),
    )
    user_make("admin", is_staff=True, is_superuser=True)
    return {"communities": communities, "posts": posts, "activities": activities}


def expected_kpis(activities: list) -> dict[str, str]:
    """The KPI figures straight from the metric tables and the activities behind them (not
    through the selectors)."""
    from analytics.models import CommunityEngagement

    today = NOW.replace(hour=0, minute=0, second=0)
    sums = CommunityEngagement.objects.filter(grain="day", window_start=today).aggregate(
        posts=Sum("posts_created"),
        likes=Sum("likes"),
        comments=Sum("comments"),
        shares=Sum("shares"),
        views=Sum("views"),
    )
    # Active users: everyone with an action in the hour buckets of the last 24 hours.
    since = (NOW - timedelta(hours=24)).replace(minute=0, second=0, microsecond=0)
    active = len({a.actor_id for a in activities if a.minute >= since})
    minutes = CommunityEngagement.objects.filter(
        grain="window",
        window_start__gte=MINUTE - timedelta(minutes=5),
        window_start__lt=MINUTE,
    ).aggregate(
        *[
            Sum(name)
            for name in (
                "views",
                "likes",
                "unlikes",
                "comments",
                "shares",
                "posts_created",
                "members_joined",
                "members_left",
            )
        ]
    )
    per_minute = sum(value or 0 for value in minutes.values()) / 5
    figures = {name: f"{value or 0:,}" for name, value in sums.items()}
    figures["active_users_24h"] = f"{active:,}"
    figures["events_per_minute"] = f"{per_minute:,.1f}".removesuffix(".0")
    return figures


def evaluate_until_true(page: Page, function: str, arg=None, timeout: float = 20) -> None:
    """Playwright's wait_for_function polls with eval(), which the site's CSP forbids (as it
    should); this polls page.evaluate instead."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(function, arg):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {function}"
        page.wait_for_timeout(100)


def kpi(page: Page, name: str) -> str:
    return page.locator(f'[data-kpi="{name}"]').inner_text().strip()


def canvas_pixels(page: Page, canvas_id: str, colour: tuple[int, int, int] | None = None) -> int:
    """Non-transparent pixels of a canvas, or those close to `colour`."""
    return page.evaluate(
        """([id, colour]) => {
            const canvas = document.getElementById(id);
            const context = canvas.getContext("2d");
            const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let count = 0;
            for (let i = 0; i < data.length; i += 4) {
                if (data[i + 3] === 0) continue;
                if (!colour) { count++; continue; }
                const d = Math.abs(data[i] - colour[0]) + Math.abs(data[i + 1] - colour[1])
                    + Math.abs(data[i + 2] - colour[2]);
                if (d < 40 && data[i + 3] > 200) count++;
            }
            return count;
        }""",
        [canvas_id, list(colour) if colour else None],
    )


@pytest.mark.browser
def test_staff_dashboard_draws_charts_and_matches_the_database(
    page: Page, live_server, dashboard_data, settings
):
    from analytics.models import PostEngagement
    from posts.services import post_create
    from tests.factories import Activity, community_make, metric_rows_load

    base = live_server.url
    ARTIFACTS.mkdir(exist_ok=True)
    api_calls: list[str] = []
    page.on("request", lambda r: api_calls.append(r.url) if "/api/v1/analytics/" in r.url else None)
    external = []
    page.on(
        "request",
        lambda r: external.append(r.url) if not r.url.startswith(base) else None,
    )

    page.goto(f"{base}/admin/login/?next=/admin/analytics/dashboard/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="Analytics")).to_be_visible()
    expect(
        page.locator("#nav-sidebar").get_by_role("link", name="Analytics dashboard")
    ).to_be_visible()
    evaluate_until_true(
        page, "() => Number(document.getElementById('analytics-dashboard').dataset.refreshes) >= 1"
    )

    # KPIs equal what the metric tables hold.
    expected = expected_kpis(dashboard_data["activities"])
    assert int(expected["likes"].replace(",", "")) > 0
    for name, value in expected.items():
        expect(page.locator(f'[data-kpi="{name}"]')).to_have_text(value)

    # Pipeline health: the Spark job caught up, one dead letter in 24 h, nothing failed.
    expect(page.locator("#ad-health-spark")).to_have_attribute("data-state", "green")
    expect(page.locator("#ad-health-dead")).to_have_attribute("data-state", "amber")
    expect(page.locator("#ad-health-dead .ad-health-value")).to_have_text("1")
    expect(page.locator("#ad-overall")).to_have_attribute("data-state", "amber")
    brokers = len(settings.KAFKA_BOOTSTRAP_SERVERS)
    expect(page.locator("#ad-health-kafka")).to_have_attribute("data-state", "green")
    expect(page.locator("#ad-health-kafka .ad-health-value")).to_have_text(
        f"{brokers} of {brokers}"
    )
    expect(page.locator("#ad-health-kafka .ad-health-detail")).to_contain_text("0 under-replicated")
    cluster = page.locator("#ad-health-cluster")
    if settings.SPARK_MASTER_UI_URL:  # the cluster topology: its master is watched
        expect(cluster).to_be_visible()
        expect(cluster.locator(".ad-health-detail")).to_contain_text("workers alive")
    else:
        expect(cluster).to_be_hidden()

    # Top lists and the charts are drawn (Chart.js from static/vendor, no CDN).
    expect(page.locator("#ad-top-posts tbody tr")).to_have_count(10)
    expect(page.locator("#ad-top-communities tbody tr")).to_have_count(4)
    assert canvas_pixels(page, "ad-engagement-chart") > 5_000
    assert canvas_pixels(page, "ad-engagement-chart", (0xF5, 0x9E, 0x0B)) > 500  # score line
    assert canvas_pixels(page, "ad-engagement-chart", (0xE1, 0x1D, 0x48)) > 200  # likes line
    assert canvas_pixels(page, "ad-spark-chart") > 200
    assert canvas_pixels(page, "ad-runs-chart", (0x25, 0x63, 0xEB)) > 100  # model's MAE line
    assert canvas_pixels(page, "ad-trending-chart", (0x8B, 0x5C, 0xF6)) > 500  # predicted bars
    assert canvas_pixels(page, "ad-trending-chart", (0x0E, 0xA5, 0xE9)) > 200  # actual bars
    expect(page.locator("#ad-trending tbody tr")).to_have_count(6)
    expect(page.locator("#ad-runs tbody tr")).to_have_count(4)
    # The newest run beside both baselines, its features, and why each post trends.
    expect(page.locator("#ad-run-metrics tbody tr")).to_have_count(4)
    expect(page.locator("#ad-run-metrics tbody tr").nth(3)).to_contain_text("NDCG at 10")
    expect(page.locator("#ad-run-metrics tbody tr").nth(3)).to_contain_text("0.700")
    expect(page.locator("#ad-run-features .ad-feature-name").first).to_have_text(
        "log_decayed_actions_60m"
    )
    expect(page.locator("#ad-run-features li")).to_have_count(3)
    expect(page.locator("#ad-trending thead")).to_contain_text("Last hour")
    expect(page.locator("#ad-trending tbody tr").first.locator("td").nth(2)).to_have_text("20")
    expect(page.locator('[data-kpi="model_mae"]')).to_have_text("0.710")
    assert external == []
    page.screenshot(path=str(ARTIFACTS / "analytics-dashboard.png"), full_page=True)

    # The community picker redraws the chart for one community.
    music = dashboard_data["communities"][2]
    page.get_by_label("Scope").select_option(label="Music")
    evaluate_until_true(
        page,
        "slug => performance.getEntriesByType('resource').some("
        "e => e.name.includes(`/communities/${slug}/engagement/`))",
        music.slug,
    )
    page.get_by_role("button", name="30 d", exact=True).click()
    expect(page.locator("#ad-chart-note")).to_contain_text("31 day buckets")

    # New activity shows up on the next refresh, without reloading the page.
    page.evaluate("window.__sameDocument = true")
    refreshes = int(page.locator("#analytics-dashboard").get_attribute("data-refreshes"))
    late = community_make(name="Late Night")
    post = post_create(author=late.created_by, community=late, kind="quote", text="Owls")
    metric_rows_load(
        [Activity(MINUTE - timedelta(minutes=1), late.pk, actor_id=9999, post_id=post.pk, likes=7)]
    )
    assert PostEngagement.objects.filter(post_id=post.pk, likes=7).exists()
    likes = int(expected["likes"].replace(",", "")) + 7
    expect(page.locator('[data-kpi="likes"]')).to_have_text(f"{likes:,}", timeout=20_000)
    assert page.evaluate("window.__sameDocument") is True
    assert int(page.locator("#analytics-dashboard").get_attribute("data-refreshes")) > refreshes
    assert any("/api/v1/analytics/summary/" in url for url in api_calls)
