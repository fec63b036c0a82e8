"""Outbox and trend tasks. Thin: the work and its guarantees are in analytics.publisher and
analytics.trends."""

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_shutdown

from analytics import publisher, trends

OUTBOX_PUBLISH_MAX_RETRIES = 20


@shared_task(bind=True, ignore_result=True, max_retries=OUTBOX_PUBLISH_MAX_RETRIES)
def outbox_publish(self) -> int:
    """Publish pending outbox rows; queued after each commit that appended events.

    While this process is backing off from a Kafka failure, a first run returns at once (the
    failed run's retry, or the sweep, will publish); a retry waits for the backoff to pass.
    On a Kafka failure the task retries itself with exponential backoff."""
    remaining = publisher.publisher_backoff_remaining()
    if remaining:
        if self.request.retries:
            raise self.retry(countdown=remaining)
        return 0
    try:
        return publisher.outbox_publish_pending().published
    except publisher.OutboxPublishUnavailable as exc:
        raise self.retry(exc=exc, countdown=publisher.publisher_backoff_remaining()) from exc


@shared_task(ignore_result=True)
def outbox_sweep() -> int:
    """Publish whatever is left pending (a lost task, a crashed worker, a Kafka outage). Run by
    Celery beat every OUTBOX_SWEEP_SECONDS; skipped while this process is backing off."""
    if publisher.publisher_backoff_remaining():
        return 0
    try:
        return publisher.outbox_publish_pending().published
    except publisher.OutboxPublishUnavailable:
        return 0


@shared_task(ignore_result=True)
def outbox_purge() -> int:
    """Delete published rows older than OUTBOX_RETENTION_HOURS. Run by Celery beat."""
    return publisher.outbox_purge_published()


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


@worker_process_shutdown.connect
@worker_shutdown.connect
def _producer_close_on_shutdown(**kwargs) -> None:
    publisher.producer_close()
