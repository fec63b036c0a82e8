"""The analytics app's Celery tasks. Thin: the work is in `analytics.services`."""

from celery import shared_task

from analytics.services import metrics, trends


@shared_task
def trends_train() -> dict:
    """Train the trend model with the Spark job and record the run (ModelRun). Run by
    Celery beat every TRENDS_TRAIN_MINUTES; skipped while another training runs."""
    run = trends.model_train()
    if run is None:
        return {"skipped": "another training is running"}
    return {"model_run": run.pk, "status": run.status, "promoted": run.promoted}


@shared_task
def trends_predict() -> dict:
    """Apply the live model to the current posts with the Spark job (PredictionRun). Run by
    Celery beat every TRENDS_PREDICT_MINUTES."""
    outcome = trends.predictions_make()
    if outcome.run is None:
        return {"skipped": outcome.skipped}
    return {"prediction_run": outcome.run.pk, "status": outcome.run.status}


@shared_task(ignore_result=True)
def engagement_windows_prune() -> int:
    """Delete stream-window metric rows past ANALYTICS_WINDOW_RETENTION_HOURS (hour and day
    rows stay). Run by Celery beat every hour."""
    return metrics.engagement_windows_prune()
