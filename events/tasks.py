"""The outbox's Celery tasks. Thin: the work and its guarantees are in `events.publisher`.

Imports run one way: `events.services` queues these tasks; the tasks call the publisher;
nothing here imports back.

At most one publisher run waits in the queue, however many transactions commit: a commit
queues a run only if it takes the "queued" flag in Redis (SET NX, with an expiry in case the
run is lost), and a run clears the flag just before it claims rows. A commit while a run is
publishing therefore queues exactly one follow-up, which sees every row committed since; a
commit while a run is still queued queues nothing, since that run will see its rows. The
periodic sweep stays the safety net for a lost run."""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

import redis
from celery import shared_task
from celery.signals import worker_process_shutdown, worker_shutdown
from django.conf import settings

from events import publisher

OUTBOX_PUBLISH_MAX_RETRIES = 20
QUEUED_FLAG_KEY = "streamer:outbox_publish:queued"
QUEUED_FLAG_SECONDS = 60  # a lost run holds the flag at most this long; the sweep runs anyway

logger = logging.getLogger(__name__)


@shared_task(bind=True, ignore_result=True, max_retries=OUTBOX_PUBLISH_MAX_RETRIES)
def outbox_publish(self) -> int:
    """Publish pending outbox rows; queued after each commit that appended events.

    While this process is backing off from a Kafka failure, a first run returns at once (the
    failed run's retry, or the sweep, will publish); a retry waits for the backoff to pass.
    On a Kafka failure the task retries itself with exponential backoff."""
    remaining = publisher.publisher_backoff_remaining()
    if remaining:
        # The flag stays taken: while Kafka is away, commits queue nothing more, and this
        # run's retry (or the sweep) publishes.
        if self.request.retries:
            raise self.retry(countdown=remaining)
        return 0
    queued_flag_clear()
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
    """Queue one publisher run unless one is queued already (see the module docstring),
    without waiting on Kafka (the worker publishes) and without retrying Redis (the sweep
    covers a lost run), so a broker outage costs the request at most one connect timeout
    (CELERY_BROKER_CONNECTION_TIMEOUT). Registered by `events.services.publish_once_on_commit`;
    the publisher drains everything pending."""
    try:
        if not _queued_flag_take():
            return
    except Exception:  # noqa: BLE001 - Redis (the broker) being down must not fail the action
        logger.warning("could not queue outbox_publish; the periodic sweep will publish")
        return
    try:
        outbox_publish.apply_async(retry=False)
    except Exception:  # noqa: BLE001 - the broker being down must not fail the user's action
        logger.warning("could not queue outbox_publish; the periodic sweep will publish")
        queued_flag_clear()


def queued_flag_clear() -> None:
    """Let the next commit queue a run (called by a run before it claims). Best effort."""
    client = _flag_client()
    if client is None:
        return
    try:
        client.delete(QUEUED_FLAG_KEY)
    except redis.RedisError:
        logger.debug("could not clear the outbox_publish flag", exc_info=True)


def _queued_flag_take() -> bool:
    """True if this caller took the flag and must queue the run."""
    client = _flag_client()
    if client is None:
        return True
    return bool(client.set(QUEUED_FLAG_KEY, "1", nx=True, ex=QUEUED_FLAG_SECONDS))


_flag_clients: dict[str, redis.Redis] = {}
_flag_clients_lock = threading.Lock()


def _flag_client() -> redis.Redis | None:
    """A Redis client on the Celery broker (the flag lives beside the queue it guards), or
    None when the broker is not Redis (then every commit queues a run, as before)."""
    url = settings.CELERY_BROKER_URL
    if urlsplit(url).scheme not in ("redis", "rediss"):
        return None
    with _flag_clients_lock:
        client = _flag_clients.get(url)
        if client is None:
            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT,
                socket_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT,
            )
            _flag_clients[url] = client
        return client


@worker_process_shutdown.connect
@worker_shutdown.connect
def _producer_close_on_shutdown(**kwargs) -> None:
    publisher.producer_close()
