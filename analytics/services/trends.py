"""Trend predictions on the Django side: running the Spark training and prediction jobs
(through `manage.py run_spark_job`, as child processes) and recording each run. The reads
(the live model, the newest batch) are in `analytics.selectors.trends`.

Two trainings never overlap: `model_train` holds a MariaDB named lock (GET_LOCK) for the
whole run, on the task's own database connection, so the lock goes away with the process
or connection if a worker dies; a second caller finds it taken and skips. Predictions use a
lock of their own, so a slow batch is skipped rather than stacked up.

The first model does not wait for the hourly schedule: while no model is promoted, the
prediction task (every few minutes) trains one itself, through the same lock, once the
engagement tables hold enough activity, and at most once per
TRENDS_FIRST_TRAINING_RETRY_MINUTES; then it predicts with it straight away."""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from analytics.models import CommunityTrend, ModelRun, PredictionRun, TrendPrediction
from analytics.selectors.trends import (
    model_run_live,
    model_run_started_since,
    prediction_batch_latest,
    training_history_ready,
)

TRAIN_LOCK = "streamer.trends.train"
# What started a training, recorded in its params.
TRIGGERS = ("schedule", "first", "admin")
PREDICT_LOCK = "streamer.trends.predict"
ERROR_CHARS = 4000

log = logging.getLogger(__name__)


@contextlib.contextmanager
def named_lock(name: str) -> Iterator[bool]:
    """Try to take a MariaDB named lock without waiting; yields whether it was taken. The
    lock belongs to this connection: it is released here, or by the server when the
    connection ends."""
    key = f"{settings.DATABASES['default']['NAME']}:{name}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, 0)", [key])
        acquired = cursor.fetchone()[0] == 1
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT RELEASE_LOCK(%s)", [key])


def _reports_dir() -> Path:
    path = Path(settings.VAR_DIR) / "run" / "trends"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _report_read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    finally:
        path.unlink(missing_ok=True)


def _job_run(job: str, args: list[str], report_path: Path) -> tuple[dict[str, Any], str]:
    """Run a trend job through the Spark runner; returns (its report, an error or "")."""
    try:
        call_command("run_spark_job", job, *args, "--report", str(report_path))
    except CommandError as exc:
        report = _report_read(report_path)
        return report, report.get("error") or str(exc)
    report = _report_read(report_path)
    if report.get("status") != "succeeded":
        return report, report.get("error") or "the job wrote no report"
    return report, ""


def _when(value: str | None):
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


def _interrupted_runs_close(model: type[ModelRun] | type[PredictionRun]) -> None:
    """Runs left `running` by a worker that died; only called while holding the lock, so
    none of them can still be going."""
    model.objects.filter(status=model.Status.RUNNING).update(
        status=model.Status.FAILED, error="interrupted (the worker stopped during the run)"
    )


def model_version_new() -> str:
    return f"{timezone.now():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def train_job_args(*, version: str) -> list[str]:
    return [
        "--version",
        version,
        "--model-dir",
        str(settings.TRENDS_MODEL_DIR),
        "--horizon-minutes",
        str(settings.TRENDS_HORIZON_MINUTES),
        "--history-hours",
        str(settings.TRENDS_HISTORY_HOURS),
        "--step-minutes",
        str(settings.TRENDS_STEP_MINUTES),
        "--max-age-hours",
        str(settings.TRENDS_MAX_AGE_HOURS),
        "--holdout-fraction",
        str(settings.TRENDS_HOLDOUT_FRACTION),
        "--algorithms",
        ",".join(settings.TRENDS_ALGORITHMS),
    ]


def model_train(*, trigger: str = "schedule") -> ModelRun | None:
    """Train a model with the Spark job and record the run; None when another training
    holds the lock. The run is promoted when the job says its model beat persistence (on
    MAE and Spearman). `trigger` (one of TRIGGERS) is kept in the run's params."""
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {TRIGGERS}")
    with named_lock(TRAIN_LOCK) as acquired:
        if not acquired:
            log.info("trend training skipped: another training is running")
            return None
        _interrupted_runs_close(ModelRun)
        version = model_version_new()
        args = train_job_args(version=version)
        run = ModelRun.objects.create(
            version=version,
            started_at=timezone.now(),
            horizon_minutes=settings.TRENDS_HORIZON_MINUTES,
            params={"job_args": args, "trigger": trigger},
        )
        started = time.monotonic()
        report, error = _job_run("trends_train", args, _reports_dir() / f"train-{version}.json")
        run.duration_seconds = round(time.monotonic() - started, 3)
        run.trained_at = timezone.now()
        run.timings = report.get("timings", {})
        if error:
            run.status = ModelRun.Status.FAILED
            run.error = error[:ERROR_CHARS]
            run.save()
            log.error("trend training %s failed: %s", version, error)
            return run
        run.status = ModelRun.Status.SUCCEEDED
        run.algorithm = report["algorithm"]
        run.training_rows = report["training_rows"]
        run.holdout_rows = report["holdout_rows"]
        run.data_until = _when(report.get("data_until"))
        run.holdout_from = _when(report.get("holdout_from"))
        run.params = {**report.get("params", {}), "job_args": args, "trigger": trigger}
        run.metrics = report["metrics"]
        run.artefact_path = report["artefact_path"]
        run.promoted = bool(report["promote"])
        run.promotion_note = report.get("promotion_note", "")[:255]
        run.save()
        log.info("trend model %s: %s", version, run.promotion_note)
        return run


def model_run_promote(*, run: ModelRun, by: Any) -> ModelRun:
    """Promote a succeeded run by hand: a staff decision over the automatic rule (beat
    persistence on MAE and Spearman), for a first model on a history too short to beat it.
    The rule's verdict stays in the note beside who overrode it. Predictions use the newest
    promoted run, so promoting an older run than the live one changes nothing live."""
    if not (by.is_active and by.is_staff and by.has_perm("analytics.change_modelrun")):
        raise PermissionDenied("Promoting a trend model needs staff with change permission.")
    if run.status != ModelRun.Status.SUCCEEDED or not run.artefact_path:
        raise ValidationError(f"Run {run.version} did not succeed: there is no model to promote.")
    if run.promoted:
        return run
    run.promoted = True
    run.promotion_note = f"promoted by {by.get_username()} in the admin; {run.promotion_note}"[:255]
    run.save(update_fields=["promoted", "promotion_note"])
    log.info("trend model %s promoted by %s", run.version, by.get_username())
    return run


@dataclass(frozen=True)
class PredictOutcome:
    run: PredictionRun | None
    skipped: str = ""
    trained: ModelRun | None = None


def first_training_due(*, now=None) -> bool:
    """No promoted model, enough activity to train on, and no training started within
    TRENDS_FIRST_TRAINING_RETRY_MINUTES (a failed or unpromoted one is not retried at
    every prediction tick)."""
    now = now or timezone.now()
    recent = now - timedelta(minutes=settings.TRENDS_FIRST_TRAINING_RETRY_MINUTES)
    return (
        model_run_live() is None
        and training_history_ready()
        and not model_run_started_since(recent)
    )


def predictions_make() -> PredictOutcome:
    """Apply the live model to the posts as they are now, with the Spark job, and record
    the batch; skipped (with the reason) without a promoted model or while another batch
    runs. Without a promoted model it first trains one when `first_training_due`."""
    with named_lock(PREDICT_LOCK) as acquired:
        if not acquired:
            return PredictOutcome(None, "another prediction batch is running")
        trained = None
        if first_training_due():
            trained = model_train(trigger="first")
        live = model_run_live()
        if live is None:
            return PredictOutcome(None, "no promoted model yet", trained)
        _interrupted_runs_close(PredictionRun)
        run = PredictionRun.objects.create(model_run=live, started_at=timezone.now())
        args = [
            "--model-path",
            live.artefact_path,
            "--run-id",
            str(run.pk),
            "--model-run-id",
            str(live.pk),
            "--store-top",
            str(settings.TRENDS_STORE_TOP),
        ]
        started = time.monotonic()
        report, error = _job_run("trends_predict", args, _reports_dir() / f"predict-{run.pk}.json")
        run.duration_seconds = round(time.monotonic() - started, 3)
        run.finished_at = timezone.now()
        run.timings = report.get("timings", {})
        run.as_of = _when(report.get("as_of"))
        if error:
            run.status = PredictionRun.Status.FAILED
            run.error = error[:ERROR_CHARS]
            run.save()
            TrendPrediction.objects.filter(run=run).delete()
            CommunityTrend.objects.filter(run=run).delete()
            log.error("trend predictions failed: %s", error)
            return PredictOutcome(run, trained=trained)
        run.status = PredictionRun.Status.SUCCEEDED
        run.posts_scored = report.get("posts_scored")
        run.communities_scored = report.get("communities_scored")
        run.save()
        predictions_purge()
        return PredictOutcome(run, trained=trained)


def predictions_purge(*, retention_hours: int | None = None) -> int:
    """Delete prediction batches older than TRENDS_RETENTION_HOURS, always keeping the
    newest succeeded one. Returns the number of batches deleted."""
    hours = settings.TRENDS_RETENTION_HOURS if retention_hours is None else retention_hours
    latest = prediction_batch_latest()
    old = PredictionRun.objects.filter(started_at__lt=timezone.now() - timedelta(hours=hours))
    if latest is not None:
        old = old.exclude(pk=latest.pk)
    ids = list(old.values_list("pk", flat=True))
    if not ids:
        return 0
    TrendPrediction.objects.filter(run_id__in=ids).delete()
    CommunityTrend.objects.filter(run_id__in=ids).delete()
    PredictionRun.objects.filter(pk__in=ids).delete()
    return len(ids)
