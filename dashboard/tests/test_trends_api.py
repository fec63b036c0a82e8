"""The trend read side and the run bookkeeping, without Spark: the trending API endpoints,
the Trending page and feed sort, the hot fallback before any prediction and what it says,
when the first training is due, batch visibility and purging, the training lock, and a
failed training job recorded with its error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.models import CommunityTrend, ModelRun, PredictionRun, TrendPrediction
from analytics.selectors.trends import model_run_live, trending_state
from analytics.services import trends
from posts.models import Post
from posts.services import post_create, post_delete
from tests.factories import Activity, community_make, metric_rows_load, user_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict:
    owner = user_make("trendy")
    music = community_make(owner=owner, name="Music")
    films = community_make(owner=owner, name="Films")
    posts = {
        name: post_create(author=owner, community=community, kind="quote", text=name)
        for name, community in [
            ("song", music),
            ("album", music),
            ("film", films),
            ("gone", films),
        ]
    }
    return {"owner": owner, "music": music, "films": films, **posts}


def batch_make(world, *, ranked: list[str], status="succeeded", ago=timedelta(0)) -> PredictionRun:
    now = timezone.now() - ago
    model = ModelRun.objects.filter(version="live").first() or ModelRun.objects.create(
        version="live",
        status="succeeded",
        started_at=now,
        horizon_minutes=60,
        promoted=True,
        algorithm="gbt",
    )
    run = PredictionRun.objects.create(
        model_run=model, status=status, started_at=now, finished_at=now, as_of=now
    )
    for rank, name in enumerate(ranked, start=1):
        post = world[name]
        TrendPrediction.objects.create(
            run=run,
            model_run=model,
            post=post,
            predicted_engagement=100.0 / rank,
            last_hour_engagement=10.0,
            trend_score=1.5 - rank,
            rank=rank,
            as_of=now,
            generated_at=now,
        )
    for rank, community in enumerate(("music", "films"), start=1):
        CommunityTrend.objects.create(
            run=run,
            model_run=model,
            community=world[community],
            predicted_engagement=50.0 / rank,
            last_hour_engagement=5.0,
            trend_score=0.5,
            rank=rank,
            posts_scored=2,
            as_of=now,
            generated_at=now,
        )
    return run


def test_trending_posts_come_from_the_newest_finished_batch(world):
    batch_make(world, ranked=["film", "song"], ago=timedelta(minutes=10))
    batch_make(world, ranked=["song", "gone", "film", "album"])
    batch_make(world, ranked=["album"], status="running")
    post_delete(actor=world["owner"], post=world["gone"])
    data = APIClient().get("/api/v1/analytics/trending/", {"limit": 2}).json()
    assert [r["post_id"] for r in data["results"]] == [world["song"].pk, world["film"].pk]
    first = data["results"][0]
    assert first["rank"] == 1 and first["predicted_engagement"] == 100.0
    assert first["community"] == "music" and first["url"] == world["song"].get_absolute_url()
    assert (data["model_version"], data["horizon_minutes"]) == ("live", 60)


def test_trending_communities(world):
    batch_make(world, ranked=["song"])
    data = APIClient().get("/api/v1/analytics/trending/communities/").json()
    assert [r["community"] for r in data["results"]] == ["music", "films"]
    assert data["results"][0]["posts_scored"] == 2


def test_trending_endpoints_before_any_prediction_fall_back_to_hot(world):
    hottest_first = list(Post.objects.order_by("-hot_score", "-pk").values_list("pk", flat=True))
    data = APIClient().get("/api/v1/analytics/trending/").json()
    assert data["source"] == "hot"
    assert data["note"].startswith("No predictions yet.")
    assert data["as_of"] is None and data["model_version"] is None
    assert [r["post_id"] for r in data["results"]] == hottest_first
    assert [r["rank"] for r in data["results"]] == [1, 2, 3, 4]
    first = data["results"][0]
    assert first["predicted_engagement"] is None and first["trend_score"] is None
    assert first["hot_score"] == Post.objects.get(pk=first["post_id"]).hot_score
    communities = APIClient().get("/api/v1/analytics/trending/communities/").json()
    assert communities["results"] == [] and communities["source"] == "hot"
    assert communities["note"] == data["note"]


def test_what_the_fallback_says_while_there_is_no_batch(world):
    now = timezone.now().replace(second=0, microsecond=0)
    # Nothing to learn from yet.
    assert "once there are 3.25 hours of activity" in trending_state().note
    # Enough activity: the first training is due.
    song, owner = world["song"], world["owner"]
    metric_rows_load(
        [
            Activity(minute, song.community_id, actor_id=owner.pk, post_id=song.pk, views=3)
            for minute in (now - timedelta(hours=4), now)
        ]
    )
    assert "first training starts within minutes" in trending_state().note
    assert trends.first_training_due()
    running = ModelRun.objects.create(
        version="r", status="running", started_at=now, horizon_minutes=60
    )
    assert "is training" in trending_state().note
    assert not trends.first_training_due(), "a training started within the retry window"
    running.status = "failed"
    running.save()
    assert "No trend model has beaten the persistence baseline yet" in trending_state().note
    assert trends.first_training_due(now=now + timedelta(minutes=16))
    ModelRun.objects.create(
        version="p", status="succeeded", started_at=now, horizon_minutes=60, promoted=True
    )
    assert "first predictions are being made" in trending_state().note
    assert not trends.first_training_due(now=now + timedelta(minutes=16))
    batch_make(world, ranked=["film"])
    assert trending_state().source == "model" and trending_state().note == ""


@pytest.mark.parametrize("limit", ["0", "101", "x"])
def test_trending_limit_is_validated(limit):
    response = APIClient().get("/api/v1/analytics/trending/", {"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()


def test_trending_page_and_feed_sort(world, django_assert_max_num_queries):
    batch_make(world, ranked=["film", "song"])
    client = Client()
    page = client.get("/trending/").content.decode()
    assert page.index(f'id="trend-{world["film"].pk}"') < page.index(
        f'id="trend-{world["song"].pk}"'
    )
    assert f'id="trend-{world["album"].pk}"' not in page
    assert "Trending communities" in page and "c/music" in page
    with django_assert_max_num_queries(8):
        home = client.get("/", {"sort": "trending"}).content.decode()
    assert home.index(f'id="post-{world["film"].pk}"') < home.index(f'id="post-{world["song"].pk}"')
    assert f'id="post-{world["album"].pk}"' not in home
    community = client.get(f"/c/{world['music'].slug}/", {"sort": "trending"}).content.decode()
    assert f'id="post-{world["song"].pk}"' in community
    assert f'id="post-{world["film"].pk}"' not in community


def test_trending_page_without_predictions_shows_the_hot_ranking_labelled(world):
    page = Client().get("/trending/").content.decode()
    assert "No predictions yet" in page and "hot ranking" in page
    hottest = Post.objects.order_by("-hot_score", "-pk").first()
    assert page.index('id="hot-') == page.index(f'id="hot-{hottest.pk}"')
    assert 'id="trend-' not in page


def test_purge_keeps_the_newest_finished_batch(world, settings):
    old = batch_make(world, ranked=["song"], ago=timedelta(hours=30))
    newest = batch_make(world, ranked=["film"], ago=timedelta(hours=26))
    recent_failed = batch_make(world, ranked=[], status="failed", ago=timedelta(hours=1))
    assert trends.predictions_purge(retention_hours=24) == 1
    assert set(PredictionRun.objects.values_list("pk", flat=True)) == {newest.pk, recent_failed.pk}
    assert not TrendPrediction.objects.filter(run_id=old.pk).exists()
    assert TrendPrediction.objects.filter(run=newest).count() == 1


def test_the_newest_promoted_run_is_live():
    now = timezone.now()
    good = ModelRun.objects.create(
        version="a", status="succeeded", started_at=now, horizon_minutes=60, promoted=True
    )
    ModelRun.objects.create(
        version="b", status="succeeded", started_at=now, horizon_minutes=60, promoted=False
    )
    ModelRun.objects.create(version="c", status="failed", started_at=now, horizon_minutes=60)
    assert model_run_live() == good


@pytest.mark.django_db(transaction=True)
def test_training_is_skipped_while_the_lock_is_held_elsewhere():
    other = connections.create_connection("default")
    key = f"{connection.settings_dict['NAME']}:{trends.TRAIN_LOCK}"
    with other.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, 0)", [key])
        assert trends.model_train() is None
        cursor.execute("SELECT RELEASE_LOCK(%s)", [key])
    other.close()
    assert not ModelRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_failed_training_job_is_recorded_with_its_error(settings, tmp_path):
    """With empty engagement tables the job stops before starting Spark, with exit status 1
    and a report; the run is failed, timed and carries the job's error."""
    settings.TRENDS_MODEL_DIR = tmp_path
    stale = ModelRun.objects.create(
        version="stale", status="running", started_at=timezone.now(), horizon_minutes=60
    )
    run = trends.model_train()
    assert run.status == ModelRun.Status.FAILED
    assert "the engagement tables are empty" in run.error
    assert run.duration_seconds > 0 and not run.promoted
    assert run.params["job_args"][:2] == ["--version", run.version]
    stale.refresh_from_db()
    assert stale.status == "failed" and "interrupted" in stale.error
