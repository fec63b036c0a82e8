"""The trend tasks end to end: a real Celery worker runs `trends_train` and `trends_predict`,
which launch the Spark jobs through `manage.py run_spark_job` (real Spark, local, small
data) against the test database; the planted viral post must come out first in the
predictions, the API and the Trending page."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from analytics.models import CommunityTrend, ModelRun, PredictionRun, TrendPrediction
from analytics.services.trends import TRAIN_LOCK
from analytics.tasks import trends_predict, trends_train
from posts.services import post_create
from spark_jobs.trends.tests.helpers import T0, synthetic_history
from tests.factories import Activity, community_make, metric_rows_load, user_make

pytestmark = [pytest.mark.spark, pytest.mark.django_db(transaction=True)]

TASK_TIMEOUT = 900
VIRAL = 1


def real_time(naive: datetime, minute: datetime) -> datetime:
    """A time of the synthetic history (relative to its T0) moved to end at `minute`."""
    return minute + (naive - T0)


@pytest.fixture
def world() -> dict:
    """Posts in three communities with eight hours of minute rows ending now: ordinary
    posts fading after they appear, one post that went viral five hours ago and the
    planted one, whose burst started 25 minutes ago."""
    minute = timezone.now().replace(second=0, microsecond=0)
    owner = user_make("trend-owner")
    communities = {n: community_make(owner=owner, name=f"Trends {n}") for n in (1, 2, 3)}
    history = synthetic_history(posts=16, hours=8, viral={VIRAL: -25.0, 2: -300.0})
    posts = {}
    for post_id, community, _author, kind, created, _deleted in history.posts:
        posts[post_id] = post_create(
            author=owner,
            community=communities[community],
            kind="quote",
            text=f"post {post_id} ({kind})",
            occurred_at=real_time(created, minute),
        )
    activities = []
    for post_id, start, _end, engagement, actors in history.post_activity:
        post = posts[post_id]
        events, people = int(engagement), max(int(actors), 1)
        for person in range(people):
            likes = events // people + (1 if person < events % people else 0)
            if likes:
                activities.append(
                    Activity(
                        real_time(start, minute),
                        post.community_id,
                        actor_id=1000 + person,
                        post_id=post.pk,
                        views=likes * 10,
                    )
                )
    metric_rows_load(activities)
    return {"posts": posts, "communities": communities}


@pytest.fixture
def worker(celery_worker_factory, tmp_path):
    return celery_worker_factory(
        {
            "TRENDS_MODEL_DIR": str(tmp_path / "models"),
            "TRENDS_HISTORY_HOURS": "8",
            "TRENDS_STEP_MINUTES": "10",
            "SPARK_MASTER": "local[2]",
            "SPARK_SHUFFLE_PARTITIONS": "2",
        }
    )


def test_training_and_prediction_tasks_rank_the_viral_post_first(world, worker, tmp_path):
    result = trends_train.delay().get(timeout=TASK_TIMEOUT)
    run = ModelRun.objects.get()
    assert result == {"model_run": run.pk, "status": "succeeded", "promoted": run.promoted}
    assert run.status == ModelRun.Status.SUCCEEDED, run.error
    assert run.algorithm in ("gbt", "linear")
    assert run.training_rows > 0 and run.holdout_rows > 0
    assert run.duration_seconds > 0 and run.trained_at >= run.started_at
    for name in ("model", "gbt", "linear", "persistence", "szabo_huberman"):
        assert set(run.metrics[name]) >= {"mae_log1p", "spearman", "precision_at_10", "rows"}
    assert run.promoted, run.promotion_note
    artefact = Path(run.artefact_path)
    assert artefact.parent == tmp_path / "models"
    assert (artefact / "model").is_dir()
    assert json.loads((artefact / "meta.json").read_text())["version"] == run.version

    outcome = trends_predict.delay().get(timeout=TASK_TIMEOUT)
    batch = PredictionRun.objects.get()
    assert outcome == {"prediction_run": batch.pk, "status": "succeeded"}
    assert batch.model_run == run and batch.error == ""
    assert batch.posts_scored == len(world["posts"])
    assert batch.as_of <= timezone.now()
    ranked = list(TrendPrediction.objects.filter(run=batch).order_by("rank"))
    assert [p.rank for p in ranked] == list(range(1, len(world["posts"]) + 1))
    viral = world["posts"][VIRAL]
    assert ranked[0].post_id == viral.pk
    assert ranked[0].predicted_engagement > ranked[1].predicted_engagement
    community_rows = list(CommunityTrend.objects.filter(run=batch).order_by("rank"))
    assert community_rows[0].community_id == viral.community_id
    assert sum(c.posts_scored for c in community_rows) == len(world["posts"])

    client = Client()
    api = client.get("/api/v1/analytics/trending/", {"limit": 3}).json()
    assert api["results"][0]["post_id"] == viral.pk
    assert len(api["results"]) == 3
    assert api["model_version"] == run.version and api["horizon_minutes"] == 60
    communities = client.get("/api/v1/analytics/trending/communities/").json()
    assert communities["results"][0]["community"] == viral.community.slug
    page = client.get("/trending/").content.decode()
    assert page.index('id="trend-') == page.index(f'id="trend-{viral.pk}"')


def test_a_training_is_skipped_while_another_holds_the_lock(world, worker):
    key = f"{settings.DATABASES['default']['NAME']}:{TRAIN_LOCK}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, 0)", [key])
        assert cursor.fetchone()[0] == 1
        try:
            result = trends_train.delay().get(timeout=TASK_TIMEOUT)
        finally:
            cursor.execute("SELECT RELEASE_LOCK(%s)", [key])
    assert result == {"skipped": "another training is running"}
    assert not ModelRun.objects.exists()


def test_prediction_waits_for_a_promoted_model(worker):
    ModelRun.objects.create(
        version="not-good-enough",
        status=ModelRun.Status.SUCCEEDED,
        started_at=datetime.now(UTC) - timedelta(minutes=5),
        horizon_minutes=60,
        promoted=False,
    )
    assert trends_predict.delay().get(timeout=TASK_TIMEOUT) == {"skipped": "no promoted model yet"}
    assert not PredictionRun.objects.exists()
