"""The analytics REST API: KPIs, time series and top lists read from the metric tables;
permissions (staff only, except a visible post's engagement); bad parameters give 400."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from kafka import KafkaProducer
from rest_framework.test import APIClient

from analytics.models import (
    EngagementDeadLetter,
    ModelRun,
    PredictionRun,
    SparkBatch,
    TrendPrediction,
)
from analytics.selectors import engagement, health
from events.models import OutboxEvent
from posts.services import post_create, post_delete
from tests.factories import Activity, community_make, metric_rows_load, user_make

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 14, 30, 20, tzinfo=UTC)
MINUTE = NOW.replace(second=0)
TODAY = NOW.replace(hour=0, minute=0, second=0)

STAFF_ENDPOINTS = [
    "/api/v1/analytics/summary/",
    "/api/v1/analytics/engagement/",
    "/api/v1/analytics/communities/{slug}/engagement/",
    "/api/v1/analytics/top/",
    "/api/v1/analytics/model-runs/",
    "/api/v1/analytics/predictions/",
]


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


@pytest.fixture
def world():
    """Two communities with posts, and a known history of engagement in the metric tables."""
    owner = user_make("owner")
    music = community_make(owner=owner, name="Music")
    films = community_make(owner=owner, name="Films")
    song = post_create(author=owner, community=music, kind="quote", text="A song")
    album = post_create(author=owner, community=music, kind="quote", text="An album")
    film = post_create(author=owner, community=films, kind="quote", text="A film")
    m = lambda minutes: MINUTE - timedelta(minutes=minutes)  # noqa: E731
    activities = [
        # Last five complete minutes: 14:25..14:29.
        Activity(m(1), music.pk, actor_id=101, post_id=song.pk, views=3, likes=1),
        Activity(m(1), music.pk, actor_id=102, post_id=album.pk, views=2, comments=1),
        Activity(m(2), films.pk, actor_id=101, post_id=film.pk, views=4, shares=1),
        Activity(m(5), music.pk, actor_id=103, post_id=song.pk, likes=1, unlikes=1),
        Activity(m(5), music.pk, actor_id=103, posts_created=1, members_joined=1),
        # The current, incomplete minute and the hours before, still today.
        Activity(MINUTE, music.pk, actor_id=104, post_id=song.pk, views=50),
        Activity(m(90), music.pk, actor_id=105, post_id=song.pk, likes=1, comments=2),
        Activity(m(600), films.pk, actor_id=106, post_id=film.pk, views=10, likes=1),
        # Yesterday, within 24 hours: counts as active, not as today.
        Activity(TODAY - timedelta(hours=2), films.pk, actor_id=107, post_id=film.pk, likes=2),
        # Last week: only in the week and month periods.
        Activity(TODAY - timedelta(days=3), music.pk, actor_id=108, post_id=album.pk, shares=9),
    ]
    metric_rows_load(activities)
    return {
        "owner": owner,
        "music": music,
        "films": films,
        "song": song,
        "album": album,
        "film": film,
    }


@pytest.fixture
def staff_client() -> APIClient:
    client = APIClient()
    client.force_authenticate(user_make("staffer", is_staff=True))
    return client


@pytest.fixture
def member_client() -> APIClient:
    client = APIClient()
    client.force_authenticate(user_make("member"))
    return client


def url_for(template: str, world) -> str:
    return template.format(slug=world["music"].slug)


# --- permissions --------------------------------------------------------------------------


@pytest.mark.parametrize("template", STAFF_ENDPOINTS)
def test_staff_endpoints_refuse_anonymous_with_401(template, world):
    response = APIClient().get(url_for(template, world))
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize("template", STAFF_ENDPOINTS)
def test_staff_endpoints_refuse_non_staff_with_403(template, world, member_client):
    response = member_client.get(url_for(template, world))
    assert response.status_code == 403
    assert "detail" in response.json()


def test_staff_endpoints_accept_a_staff_token():
    from accounts.services import token_for

    staff = user_make("tokenstaff", is_staff=True)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token_for(user=staff)}")
    assert client.get("/api/v1/analytics/summary/").status_code == 200


# --- summary ------------------------------------------------------------------------------


def test_summary_reports_kpis_from_the_rollups(world, staff_client):
    data = staff_client.get("/api/v1/analytics/summary/").json()

    assert data["generated_at"] == "2026-11-30T14:30:20Z"
    minutes = {m["start"]: m["events"] for m in data["events_last_5_minutes"]}
    assert minutes == {
        "2026-11-30T14:25:00Z": 4,  # like + unlike + post created + member joined
        "2026-11-30T14:26:00Z": 0,
        "2026-11-30T14:27:00Z": 0,
        "2026-11-30T14:28:00Z": 5,  # 4 views + 1 share
        "2026-11-30T14:29:00Z": 7,  # 5 views + 1 like + 1 comment
    }
    assert data["events_per_minute"] == pytest.approx(16 / 5)
    assert data["active_users_24h"] == 7  # actors 101..107; 108 acted three days ago
    assert data["today"] == {
        "posts": 1,
        "views": 3 + 2 + 4 + 50 + 10,
        "likes": 1 + 1 + 1 + 1,
        "comments": 1 + 2,
        "shares": 1,
        "members_joined": 1,
    }


def test_summary_reports_pipeline_health(world, staff_client, kafka_topic, settings):
    settings.KAFKA_EVENTS_TOPIC = kafka_topic
    EngagementDeadLetter.objects.create(
        topic="t", partition=0, offset=1, error="not JSON", received_at=NOW - timedelta(hours=1)
    )
    EngagementDeadLetter.objects.create(
        topic="t", partition=0, offset=2, error="not JSON", received_at=NOW - timedelta(days=2)
    )
    data = staff_client.get("/api/v1/analytics/summary/").json()

    pending = OutboxEvent.objects.filter(status="pending").count()
    assert pending > 0  # the services' events, not published in a test transaction
    assert data["outbox"]["pending"] == pending
    assert data["outbox"]["failed"] == 0
    assert data["outbox"]["health"]["state"] == "green"
    assert data["dead_letters"]["total"] == 2
    assert data["dead_letters"]["last_24h"] == 1
    assert data["dead_letters"]["health"]["state"] == "amber"
    assert data["spark"]["last_batch_at"] is None
    assert data["spark"]["health"] == {"state": "amber", "detail": "no batch applied yet"}
    kafka = data["kafka"]
    assert kafka["health"]["state"] == "green"
    assert kafka["reachable"] and kafka["brokers_down"] == []
    assert len(kafka["brokers_up"]) == len(settings.KAFKA_BOOTSTRAP_SERVERS)
    assert (kafka["partitions"], kafka["under_replicated"]) == (2, 0)
    assert kafka["replication_factor"] == settings.KAFKA_EVENTS_REPLICATION_FACTOR
    assert data["spark_cluster"]["master"] == settings.SPARK_MASTER
    assert data["spark_cluster"]["health"]["state"] == "green"
    assert data["health"] == "amber"
    assert data["model_run"] is None


def test_summary_turns_red_when_kafka_has_no_events_topic(world, staff_client, settings):
    settings.KAFKA_EVENTS_TOPIC = "test.never.created"
    data = staff_client.get("/api/v1/analytics/summary/").json()

    assert data["kafka"]["health"]["state"] == "red"
    assert "missing" in data["kafka"]["health"]["detail"]
    assert data["health"] == "red"


def test_summary_reads_the_spark_lag_from_the_real_broker(kafka_topic, staff_client, settings):
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    for n in range(5):
        producer.send(kafka_topic, value=b"{}", partition=n % 2).get(timeout=30)
    producer.close()
    for batch_id, late, applied_at in (
        (5, 9, NOW - timedelta(days=1)),  # yesterday's late events are not today's
        (6, 3, NOW - timedelta(minutes=5)),
        (7, 2, NOW - timedelta(seconds=20)),
    ):
        SparkBatch.objects.create(
            query_name="engagement",
            query_id="q1",
            batch_id=batch_id,
            topic=kafka_topic,
            end_offsets={"0": 1, "1": 1},  # partition 0 holds 3 messages, partition 1 holds 2
            late_events=late,
            applied_at=applied_at,
        )
    spark = staff_client.get("/api/v1/analytics/summary/").json()["spark"]

    assert spark["last_batch_id"] == 7
    assert spark["last_batch_at"] == "2026-11-30T14:30:00Z"
    assert spark["last_batch_age_seconds"] == 20.0
    assert spark["lag_events"] == 3
    assert (spark["late_events_last_batch"], spark["late_events_today"]) == (2, 5)
    assert spark["health"]["state"] == "green"


@pytest.mark.parametrize(
    ("lag", "age", "state"),
    [
        (0, 3600, "green"),  # nothing to read: an old batch is fine
        (5, 10, "green"),
        (1000, 10, "amber"),
        (5, 120, "amber"),  # behind and slow
        (10_000, 10, "red"),
        (5, 600, "red"),  # behind and stalled
    ],
)
def test_spark_health_thresholds(monkeypatch, lag, age, state):
    monkeypatch.setattr(health, "spark_lag_cached", lambda topic, offsets: lag)
    SparkBatch.objects.create(
        query_name="engagement",
        query_id="q1",
        batch_id=1,
        topic="t",
        end_offsets={"0": 0},
        applied_at=NOW - timedelta(seconds=age),
    )
    assert health.spark_status(now=NOW).health.state == state


@pytest.mark.parametrize(
    ("age", "failed", "state"), [(0, 0, "green"), (20, 0, "amber"), (90, 0, "red"), (0, 1, "red")]
)
def test_outbox_health_thresholds(age, failed, state):
    community_make()
    OutboxEvent.objects.update(created_at=NOW - timedelta(seconds=age))
    if failed:
        OutboxEvent.objects.update(status="failed")
    assert health.outbox_status().health.state == state


@override_settings(ANALYTICS_DEAD_LETTERS_AMBER=2, ANALYTICS_DEAD_LETTERS_RED=3)
def test_dead_letter_thresholds_come_from_settings():
    states = []
    for offset in range(3):
        EngagementDeadLetter.objects.create(
            topic="t", partition=0, offset=offset, error="bad", received_at=NOW
        )
        states.append(health.dead_letter_status(now=NOW).health.state)
    assert states == ["green", "amber", "red"]


# --- time series --------------------------------------------------------------------------


def test_post_engagement_is_readable_by_anyone_who_can_see_the_post(world):
    song = world["song"]
    response = APIClient().get(
        f"/api/v1/analytics/posts/{song.pk}/engagement/",
        {"granularity": "minute", "since": "2026-11-30T14:25:00Z", "until": "2026-11-30T14:31Z"},
    )
    assert response.status_code == 200
    data = response.json()
    assert data["post"] == song.pk
    assert data["community"] == "music"
    assert data["granularity"] == "minute"
    assert [p["start"][11:16] for p in data["points"]] == [
        "14:25",
        "14:26",
        "14:27",
        "14:28",
        "14:29",
        "14:30",
    ]
    by_minute = {p["start"][11:16]: p for p in data["points"]}
    assert by_minute["14:25"]["likes"] == 1 and by_minute["14:25"]["unlikes"] == 1
    assert by_minute["14:25"]["net_likes"] == 0
    assert by_minute["14:29"]["views"] == 3 and by_minute["14:29"]["engagement_score"] == 1.3
    assert by_minute["14:30"]["views"] == 50
    assert by_minute["14:27"] == {
        "start": "2026-11-30T14:27:00Z",
        "views": 0,
        "likes": 0,
        "unlikes": 0,
        "net_likes": 0,
        "comments": 0,
        "shares": 0,
        "distinct_actors": 0,
        "engagement_score": 0.0,
    }
    assert data["totals"]["views"] == 53
    assert data["totals"]["distinct_actors"] is None


def test_post_engagement_defaults_to_48_hours_of_hour_rollups(world, member_client):
    song = world["song"]
    data = member_client.get(f"/api/v1/analytics/posts/{song.pk}/engagement/").json()
    assert data["granularity"] == "hour"
    assert data["since"] == "2026-11-28T14:00:00Z"
    assert data["until"] == "2026-11-30T14:30:20Z"
    assert len(data["points"]) == 49
    nonzero = {p["start"]: p["engagement_score"] for p in data["points"] if p["engagement_score"]}
    # 13:00 hour: a like and two comments; 14:00 hour: 3 views + 1 like, 50 views, like-unlike.
    assert nonzero == {"2026-11-30T13:00:00Z": 5.0, "2026-11-30T14:00:00Z": 6.3}


def test_post_engagement_of_a_deleted_or_unknown_post_is_404(world):
    song = world["song"]
    post_delete(actor=world["owner"], post=song)
    assert APIClient().get(f"/api/v1/analytics/posts/{song.pk}/engagement/").status_code == 404
    assert APIClient().get("/api/v1/analytics/posts/999999/engagement/").status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"granularity": "week"}, "granularity"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"since": "2026-11-30T15:00Z", "until": "2026-11-30T14:00Z"}, "since"),
        ({"granularity": "minute", "since": "2026-11-20T00:00Z"}, "since"),
        ({"granularity": "hour", "since": "2025-01-01T00:00Z"}, "since"),
        ({"until": "0001-01-01T00:00Z"}, "until"),
        ({"since": "9999-12-31T00:00Z"}, "since"),
    ],
)
def test_bad_series_parameters_give_400_with_the_field(world, params, field):
    song = world["song"]
    response = APIClient().get(f"/api/v1/analytics/posts/{song.pk}/engagement/", params)
    assert response.status_code == 400
    assert field in response.json()
    assert all(isinstance(message, str) for message in response.json()[field])


def test_community_engagement_by_day(world, staff_client):
    response = staff_client.get(
        "/api/v1/analytics/communities/music/engagement/", {"granularity": "day"}
    )
    assert response.status_code == 200
    data = response.json()
    assert data["community"] == "music"
    assert len(data["points"]) == 31
    by_day = {p["start"][:10]: p for p in data["points"] if p["views"] or p["shares"]}
    assert set(by_day) == {"2026-11-27", "2026-11-30"}
    assert by_day["2026-11-27"]["shares"] == 9
    today = by_day["2026-11-30"]
    assert (today["views"], today["likes"], today["comments"]) == (55, 3, 3)
    assert (today["posts_created"], today["members_joined"]) == (1, 1)
    assert today["distinct_actors"] == 5  # 101, 102, 103, 104, 105


def test_community_engagement_of_an_unknown_community_is_404(staff_client):
    response = staff_client.get("/api/v1/analytics/communities/nope/engagement/")
    assert response.status_code == 404


def test_site_engagement_sums_the_communities(world, staff_client):
    data = staff_client.get(
        "/api/v1/analytics/engagement/",
        {"granularity": "minute", "since": "2026-11-30T14:28:00Z"},
    ).json()
    assert data["community"] is None
    first, second, current = data["points"]
    assert (first["views"], first["shares"]) == (4, 1)
    assert (second["views"], second["likes"], second["comments"]) == (5, 1, 1)
    assert second["engagement_score"] == pytest.approx(0.5 + 1 + 2)
    assert current["views"] == 50
    assert first["distinct_actors"] is None


# --- top lists ----------------------------------------------------------------------------


def test_top_posts_by_engagement_score_over_24_hours(world, staff_client):
    data = staff_client.get("/api/v1/analytics/top/", {"entity": "post"}).json()
    assert (data["entity"], data["metric"], data["period"]) == ("post", "engagement_score", "day")
    assert data["since"] == "2026-11-29T15:00:00Z"
    ids = [entry["id"] for entry in data["results"]]
    # song 11.3 (5.0 + 6.3); film 0.4 + 3 + 1.0 + 2 (yesterday 22:00 is in the last 24 h);
    # album 0.2 + 2.
    assert ids == [world["song"].pk, world["film"].pk, world["album"].pk]
    song = data["results"][0]
    assert song["value"] == pytest.approx(11.3)
    assert song["label"] == "“A song”"
    assert song["community"] == "music"
    assert song["url"] == world["song"].get_absolute_url()
    assert song["metrics"]["views"] == 53
    assert song["deleted"] is False


def test_top_lists_follow_metric_period_and_community(world, staff_client):
    week = staff_client.get(
        "/api/v1/analytics/top/", {"entity": "post", "metric": "shares", "period": "week"}
    ).json()
    assert week["results"][0]["id"] == world["album"].pk
    assert week["results"][0]["value"] == 9

    hour = staff_client.get(
        "/api/v1/analytics/top/", {"entity": "post", "metric": "views", "period": "hour"}
    ).json()
    assert [(e["id"], e["value"]) for e in hour["results"]] == [
        (world["song"].pk, 53),
        (world["film"].pk, 4),
        (world["album"].pk, 2),
    ]

    in_films = staff_client.get(
        "/api/v1/analytics/top/", {"entity": "post", "community": "films", "limit": 5}
    ).json()
    assert [e["id"] for e in in_films["results"]] == [world["film"].pk]

    communities = staff_client.get(
        "/api/v1/analytics/top/", {"entity": "community", "metric": "likes", "period": "month"}
    ).json()
    # A tie (3 likes each) is broken by id.
    assert [(e["label"], e["value"]) for e in communities["results"]] == [
        ("Music", 3),
        ("Films", 3),
    ]
    assert communities["results"][0]["url"] == world["music"].get_absolute_url()


def test_top_marks_deleted_posts(world, staff_client):
    post_delete(actor=world["owner"], post=world["song"])
    data = staff_client.get("/api/v1/analytics/top/", {"entity": "post", "limit": 1}).json()
    entry = data["results"][0]
    assert entry["id"] == world["song"].pk
    assert entry["deleted"] is True
    assert entry["url"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"entity": "user"}, "entity"),
        ({"metric": "distinct_actors"}, "metric"),
        ({"period": "year"}, "period"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"entity": "community", "community": "music"}, "community"),
    ],
)
def test_bad_top_parameters_give_400_with_the_field(world, staff_client, params, field):
    response = staff_client.get("/api/v1/analytics/top/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_top_in_an_unknown_community_is_404(staff_client):
    response = staff_client.get("/api/v1/analytics/top/", {"entity": "post", "community": "x"})
    assert response.status_code == 404


# --- trend models -------------------------------------------------------------------------


def test_active_users_are_counted_once_across_communities(world):
    assert engagement.active_users_count(since=NOW - timedelta(hours=24)) == 7
    assert engagement.active_users_count(since=MINUTE - timedelta(minutes=2)) == 3  # 101,102,104


@pytest.fixture
def trend_runs(world):
    def metrics(model: float) -> dict:
        return {
            "model": {
                "mae_log1p": model,
                "spearman": 0.61,
                "precision_at_10": 0.4,
                "ndcg_at_10": 0.8,
                "rows": 90,
            },
            "persistence": {"mae_log1p": 0.92, "spearman": 0.42, "precision_at_10": 0.3},
            "szabo_huberman": {"mae_log1p": 0.81, "spearman": 0.5, "precision_at_10": 0.3},
        }

    ModelRun.objects.create(
        version="v1", status="failed", started_at=NOW - timedelta(hours=5), horizon_minutes=60,
        error="Spark died",
    )  # fmt: skip
    importances = {
        "chance": {f"feature_{n}": n / 55 for n in range(1, 11)},
        "size": {"log_engagement_60m": 0.7, "log_age_minutes": 0.3},
    }
    live = ModelRun.objects.create(
        version="v2", status="succeeded", started_at=NOW - timedelta(hours=4),
        trained_at=NOW - timedelta(hours=4) + timedelta(seconds=40), duration_seconds=40.0,
        horizon_minutes=60, algorithm="hurdle", training_rows=1200, holdout_rows=300,
        metrics=metrics(0.55), promoted=True,
        params={"trigger": "first", "models": {"hurdle": {"feature_importances": importances}}},
    )  # fmt: skip
    batches = {}
    for name, as_of, ranked in [
        ("evaluated", NOW - timedelta(hours=2), [("song", 4.0)]),
        ("latest", MINUTE - timedelta(minutes=3), [("song", 20.0), ("film", 8.0)]),
    ]:
        run = PredictionRun.objects.create(
            model_run=live, status="succeeded", started_at=as_of, as_of=as_of
        )
        for rank, (post, predicted) in enumerate(ranked, start=1):
            TrendPrediction.objects.create(
                run=run, model_run=live, post=world[post], predicted_engagement=predicted,
                last_hour_engagement=1.0, trend_score=2.5 - rank, rank=rank, as_of=as_of,
                generated_at=as_of,
            )  # fmt: skip
        batches[name] = run
    PredictionRun.objects.create(status="running", started_at=NOW, as_of=NOW)
    return batches


def test_model_runs_list_the_model_beside_its_baselines(trend_runs, staff_client):
    data = staff_client.get("/api/v1/analytics/model-runs/").json()
    assert [run["version"] for run in data["results"]] == ["v2", "v1"]
    live = data["results"][0]
    assert live["metrics"]["model"]["mae_log1p"] == 0.55
    assert live["metrics"]["persistence"]["mae_log1p"] == 0.92
    assert live["metrics"]["szabo_huberman"]["spearman"] == 0.5
    assert live["metrics"]["model"]["ndcg_at_10"] == 0.8
    assert (live["promoted"], live["algorithm"], live["training_rows"]) == (True, "hurdle", 1200)
    assert live["trigger"] == "first"
    # The strongest eight features of each part, strongest first.
    chance = live["feature_importances"]["chance"]
    assert [f["feature"] for f in chance] == [f"feature_{n}" for n in range(10, 2, -1)]
    assert chance[0]["importance"] == pytest.approx(10 / 55)
    assert [f["feature"] for f in live["feature_importances"]["size"]] == [
        "log_engagement_60m",
        "log_age_minutes",
    ]
    assert data["results"][1]["error"] == "Spark died"
    assert data["results"][1]["feature_importances"] == {}

    summary = staff_client.get("/api/v1/analytics/summary/").json()
    assert summary["model_run"]["version"] == "v2"


def test_predictions_beside_the_actual_engagement(trend_runs, world, staff_client):
    latest = staff_client.get("/api/v1/analytics/predictions/").json()
    assert latest["batch"] == "latest"
    assert latest["as_of"] == "2026-11-30T14:27:00Z"
    assert latest["horizon_end"] == "2026-11-30T15:27:00Z"
    assert latest["complete"] is False
    assert latest["model_run"]["version"] == "v2"
    rows = [(r["post_id"], r["rank"], r["predicted"], r["actual"]) for r in latest["results"]]
    assert [r["last_hour"] for r in latest["results"]] == [1.0, 1.0]
    # Since 14:27: the song got 3 views + 1 like, then 50 views; the film 4 views + 1 share.
    assert rows == [
        (world["song"].pk, 1, 20.0, pytest.approx(6.3)),
        (world["film"].pk, 2, 8.0, pytest.approx(3.4)),
    ]
    assert latest["results"][0]["label"] == "“A song”"

    evaluated = staff_client.get("/api/v1/analytics/predictions/", {"batch": "evaluated"}).json()
    assert evaluated["complete"] is True
    assert evaluated["as_of"] == "2026-11-30T12:30:20Z"
    assert [(r["rank"], r["actual"]) for r in evaluated["results"]] == [(1, 5.0)]

    limited = staff_client.get("/api/v1/analytics/predictions/", {"limit": 1}).json()
    assert len(limited["results"]) == 1
    assert staff_client.get("/api/v1/analytics/predictions/", {"batch": "x"}).status_code == 400


def test_predictions_without_any_run_yet(staff_client):
    data = staff_client.get("/api/v1/analytics/predictions/").json()
    assert data == {
        "batch": "latest",
        "model_run": None,
        "as_of": None,
        "horizon_end": None,
        "complete": False,
        "results": [],
    }
    assert staff_client.get("/api/v1/analytics/model-runs/").json() == {"results": []}
