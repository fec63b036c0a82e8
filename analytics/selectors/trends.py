"""Reads of the trend model's runs and predictions.

"The newest prediction batch" is decided here only (`prediction_batches_newest_first`): the
feeds' Trending sort, the Trending page and API, and the dashboard all read through it. So
is what the Trending page and API say while there is none (`trending_state`), and whether
there is enough activity for a first training (`training_history_ready`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Max, Min, QuerySet, Sum
from django.utils import timezone

from analytics.models import (
    CommunityTrend,
    EngagementGrain,
    ModelRun,
    PostEngagement,
    PredictionRun,
    TrendPrediction,
)
from spark_jobs.trends.history import minimum_history_minutes

MODEL_RUN_FIELDS = (
    "id",
    "version",
    "status",
    "algorithm",
    "started_at",
    "trained_at",
    "duration_seconds",
    "horizon_minutes",
    "training_rows",
    "holdout_rows",
    "promoted",
    "promotion_note",
    "metrics",
    "error",
)
# Feature importances shown per model run: the strongest of each part of the model.
TOP_FEATURES = 8
PREDICTION_BATCHES = ("latest", "evaluated")
# Runs come every few minutes and horizons are about an hour: the newest batch whose horizon
# has passed is among the newest few dozen.
EVALUATED_SEARCH_DEPTH = 100


# --- model runs ----------------------------------------------------------------------------


def model_run_live() -> ModelRun | None:
    """The newest promoted run: the model predictions use."""
    return (
        ModelRun.objects.filter(status=ModelRun.Status.SUCCEEDED, promoted=True)
        .order_by("-id")
        .first()
    )


def _feature_importances(run: ModelRun) -> dict[str, list[dict[str, Any]]]:
    """The chosen algorithm's strongest features per part (the hurdle model's "chance" of
    any engagement and its "size"; a regressor's "engagement"), strongest first."""
    params = run.params if isinstance(run.params, dict) else {}
    details = (params.get("models") or {}).get(run.algorithm) or {}
    parts = details.get("feature_importances") or {}
    if not isinstance(parts, dict):
        return {}
    return {
        part: [
            {"feature": name, "importance": float(weight)}
            for name, weight in sorted(weights.items(), key=lambda item: -item[1])[:TOP_FEATURES]
        ]
        for part, weights in parts.items()
        if isinstance(weights, dict)
    }


def model_run_describe(run: ModelRun) -> dict[str, Any]:
    """A model run as plain data. `metrics` maps "model", each baseline ("persistence",
    "szabo_huberman") and each candidate to {"mae_log1p", "spearman", "precision_at_10",
    "ndcg_at_10"}; `feature_importances` maps each part of the model to its strongest
    features; `trigger` says what started it (schedule, first training, admin)."""
    described = {name: getattr(run, name) for name in MODEL_RUN_FIELDS}
    metrics = run.metrics if isinstance(run.metrics, dict) else {}
    described["metrics"] = {k: v for k, v in metrics.items() if isinstance(v, dict)}
    described["feature_importances"] = _feature_importances(run)
    params = run.params if isinstance(run.params, dict) else {}
    described["trigger"] = params.get("trigger", "")
    return described


def model_run_active() -> ModelRun | None:
    """The training running now, if any."""
    return ModelRun.objects.filter(status=ModelRun.Status.RUNNING).order_by("-id").first()


def model_run_started_since(moment: datetime) -> bool:
    return ModelRun.objects.filter(started_at__gte=moment).exists()


# --- the first training ---------------------------------------------------------------------


def training_history_minutes_needed() -> int:
    return minimum_history_minutes(
        horizon_minutes=settings.TRENDS_HORIZON_MINUTES,
        step_minutes=settings.TRENDS_STEP_MINUTES,
        holdout_fraction=settings.TRENDS_HOLDOUT_FRACTION,
    )


def training_history_minutes() -> float:
    """Minutes between the oldest and the newest stream-window row of any post (two
    index-only reads); 0 when there is none."""
    rows = PostEngagement.objects.filter(grain=EngagementGrain.WINDOW)
    span = rows.aggregate(first=Min("window_start"), last=Max("window_start"))
    if span["first"] is None:
        return 0.0
    return (span["last"] - span["first"]).total_seconds() / 60.0


def training_history_ready() -> bool:
    """Whether the engagement tables hold enough activity for a training."""
    return training_history_minutes() >= training_history_minutes_needed()


def model_run_latest() -> dict[str, Any] | None:
    run = ModelRun.objects.order_by("-pk").first()
    return None if run is None else model_run_describe(run)


def model_run_list(*, limit: int = 20) -> list[dict[str, Any]]:
    """The newest model runs first, whatever their status (failed and not promoted ones
    included: the history is the point)."""
    return [model_run_describe(run) for run in ModelRun.objects.order_by("-pk")[:limit]]


# --- prediction batches --------------------------------------------------------------------


def prediction_batches_newest_first() -> QuerySet[PredictionRun]:
    """Finished prediction batches, newest first: `[:1]` of it is the batch the product
    shows, usable as a subquery so a feed stays one query."""
    return PredictionRun.objects.filter(status=PredictionRun.Status.SUCCEEDED).order_by("-id")


def prediction_batch_latest() -> PredictionRun | None:
    """The newest finished batch, with its model run."""
    return prediction_batches_newest_first().select_related("model_run").first()


def predictions_of_latest_batch() -> QuerySet[TrendPrediction]:
    """The post predictions of the newest batch, picked in SQL (a subquery on the batch)."""
    latest = prediction_batches_newest_first().values("id")[:1]
    return TrendPrediction.objects.filter(run_id=latest)


@dataclass(frozen=True)
class TrendingState:
    """What the Trending page and API show: the newest prediction batch, or, while there is
    none, the hot ranking with `note` saying why."""

    batch: PredictionRun | None
    note: str = ""

    @property
    def source(self) -> str:
        return "model" if self.batch is not None else "hot"


def trending_state() -> TrendingState:
    batch = prediction_batch_latest()
    if batch is not None:
        return TrendingState(batch)
    if model_run_live() is not None:
        reason = "The trend model is ready; its first predictions are being made."
    elif model_run_active() is not None:
        reason = "The trend model is training on the activity so far."
    elif not training_history_ready():
        hours = training_history_minutes_needed() / 60
        reason = (
            f"The trend model trains once there are {hours:g} hours of activity "
            "(it learns from what followed each moment)."
        )
    elif ModelRun.objects.exists():
        reason = "No trend model has beaten the persistence baseline yet; training retries soon."
    else:
        reason = "The trend model's first training starts within minutes."
    return TrendingState(None, f"No predictions yet. {reason}")


def trending_community_list(*, run: PredictionRun | None, limit: int) -> list[CommunityTrend]:
    if run is None:
        return []
    return list(
        CommunityTrend.objects.filter(run=run).select_related("community").order_by("rank")[:limit]
    )


def _batch_evaluated(now: datetime) -> PredictionRun | None:
    """The newest batch whose horizon has passed, so its actuals are final."""
    candidates = prediction_batches_newest_first().filter(as_of__isnull=False)
    for run in candidates.select_related("model_run")[:EVALUATED_SEARCH_DEPTH]:
        if run.as_of + timedelta(minutes=run.model_run.horizon_minutes) <= now:
            return run
    return None


@dataclass
class PredictionEntry:
    """`last_hour` (the engagement in the hour before as_of) and `predicted` are why the
    post is on the list; `actual` is what followed."""

    post_id: int
    rank: int | None
    trend_score: float | None
    predicted: float
    actual: float
    last_hour: float | None = None


@dataclass
class PredictionList:
    batch: str = "latest"
    model_run: dict[str, Any] | None = None
    as_of: datetime | None = None
    horizon_end: datetime | None = None
    complete: bool = False
    results: list[PredictionEntry] = field(default_factory=list)


def trend_predictions_with_actuals(
    *, limit: int = 10, batch: str = "latest", now: datetime | None = None
) -> PredictionList:
    """A batch of post predictions, best ranked first, each beside the engagement score the
    post actually got over the predicted horizon [as_of, as_of + horizon): so far for the
    `latest` batch, final for the `evaluated` one (the newest whose horizon has passed).
    Actuals are sums of the stream-window rows, one indexed range per post."""
    if batch not in PREDICTION_BATCHES:
        raise ValidationError({"batch": f"Must be one of {', '.join(PREDICTION_BATCHES)}."})
    now = now or timezone.now()
    run = prediction_batch_latest() if batch == "latest" else _batch_evaluated(now)
    if run is None or run.as_of is None:
        return PredictionList(batch=batch)
    horizon_end = run.as_of + timedelta(minutes=run.model_run.horizon_minutes)
    predictions = list(TrendPrediction.objects.filter(run=run).order_by("rank")[:limit])
    post_ids = [p.post_id for p in predictions]
    actual = dict(
        PostEngagement.objects.filter(
            post_id__in=post_ids,
            grain=EngagementGrain.WINDOW,
            window_start__gte=run.as_of,
            window_start__lt=horizon_end,
        )
        .values("post_id")
        .annotate(score=Sum("engagement_score"))
        .order_by()
        .values_list("post_id", "score")
    )
    results = [
        PredictionEntry(
            post_id=prediction.post_id,
            rank=prediction.rank,
            trend_score=prediction.trend_score,
            predicted=prediction.predicted_engagement,
            actual=float(actual.get(prediction.post_id) or 0),
            last_hour=prediction.last_hour_engagement,
        )
        for prediction in predictions
    ]
    return PredictionList(
        batch=batch,
        model_run=model_run_describe(run.model_run),
        as_of=run.as_of,
        horizon_end=horizon_end,
        complete=horizon_end <= now,
        results=results,
    )
