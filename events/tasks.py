"""The outbox's Celery tasks. Thin: the work and its guarantees are in `events.publisher`.

Imports run one way: `events.services` queues these tasks; the tasks call the publisher;
nothing here imports back."""

import logging

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_shutdown

from events import publisher

OUTBOX_PUBLISH_MAX_RETRIES = 20

logger = logging.getLogger(__name__)


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


def publish_soon_on_commit() -> None:
    """Queue one publisher run, without waiting on Kafka (the worker publishes) and without
    retrying the Redis publish (the sweep covers a lost run), so a broker outage costs the
    request at most one connect timeout (CELERY_BROKER_CONNECTION_TIMEOUT). Registered by
    `events.services.publish_once_on_commit`; the publisher drains everything pending."""
    try:
        outbox_publish.apply_async(retry=False)
    except Exception:  # noqa: BLE001 - the broker being down must not fail the user's action
        logger.warning("could not queue outbox_publish; the periodic sweep will publish")


@worker_process_shutdown.connect
@worker_shutdown.connect
def _producer_close_on_shutdown(**kwargs) -> None:
    publisher.producer_close()
