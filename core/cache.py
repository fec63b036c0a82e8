"""Redis for the read-side caches (feed listings, rendered cards), used so that a Redis outage
costs a cache miss and never an error.

Every call goes through `redis_call`. The first failure opens a breaker: for
CACHE_RETRY_SECONDS this process does not even try Redis, and callers take their database
path. The outage is logged once when it starts and once when Redis answers again.

Cached data lives under a generation (`cache_key`). A process that could not write an
invalidation during an outage (`redis_call(..., invalidates=True)` failed) bumps the
generation as soon as Redis answers again, so nothing written before the outage is read
after it: every key is then rebuilt from the database.

The client is the django-redis connection of the `default` cache (CACHE_URL); with another
cache backend (the local-memory cache) there is no Redis, and every caller takes its
database path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from redis import Redis, RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")

GENERATION_KEY = "cache:generation"
GENERATION_READ_SECONDS = 1.0


class _State:
    """This process's view of Redis (shared by its threads; races only cost a retry)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_until = 0.0
        self.down_since: float | None = None
        self.stale = False  # an invalidation was lost: bump the generation when Redis is back
        self.generation: int | None = None
        self.generation_read_at = 0.0


_state = _State()


def cache_state_reset() -> None:
    """Forget this process's breaker and generation (tests, after flushing Redis)."""
    global _state
    _state = _State()


def _client() -> Redis | None:
    if time.monotonic() < _state.down_until:
        return None
    try:
        from django_redis import get_redis_connection

        return get_redis_connection("default")
    except (ImportError, NotImplementedError):
        return None


def redis_available() -> bool:
    return _client() is not None


def _failed(exc: Exception, *, invalidates: bool) -> None:
    with _state.lock:
        _state.down_until = time.monotonic() + settings.CACHE_RETRY_SECONDS
        _state.stale = _state.stale or invalidates
        if _state.down_since is None:
            _state.down_since = time.monotonic()
            logger.warning(
                "cache: Redis unavailable (%s); reading from the database, retrying every %s s",
                exc,
                settings.CACHE_RETRY_SECONDS,
            )


def _recovered(client: Redis) -> None:
    with _state.lock:
        if _state.stale:
            _state.generation = int(client.incr(GENERATION_KEY))
            _state.generation_read_at = time.monotonic()
            _state.stale = False
            logger.warning("cache: invalidations were lost while Redis was down; new generation")
        if _state.down_since is not None:
            logger.warning(
                "cache: Redis answers again after %.0f s", time.monotonic() - _state.down_since
            )
            _state.down_since = None


def redis_call(work: Callable[[Redis], T], *, invalidates: bool = False) -> T | None:
    """`work(client)`, or None when Redis is unavailable (then the caller reads the
    database). With INVALIDATES, a failure means cached data may now be stale."""
    client = _client()
    if client is None:
        if invalidates:
            _state.stale = True
        return None
    try:
        if _state.stale or _state.down_since is not None:
            _recovered(client)
        return work(client)
    except (RedisError, OSError) as exc:
        _failed(exc, invalidates=invalidates)
        return None


def cache_generation(client: Redis) -> int:
    """The current generation, read from Redis at most once a second per process."""
    now = time.monotonic()
    if _state.generation is None or now - _state.generation_read_at > GENERATION_READ_SECONDS:
        _state.generation = int(client.get(GENERATION_KEY) or 0)
        _state.generation_read_at = now
    return _state.generation


def cache_key(client: Redis, *parts: object) -> str:
    """A key in the current generation: `g<generation>:<part>:<part>...`."""
    return ":".join((f"g{cache_generation(client)}", *map(str, parts)))
