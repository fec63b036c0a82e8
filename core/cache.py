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
import pickle
import secrets
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import transaction
from redis import Redis, RedisError
from redis.client import Pipeline
from redis.commands.core import Script

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


# --- values cached per version --------------------------------------------------------------
#
# A cached value sits under its name and a version, an opaque token that a write replaces
# after its commit (`version_bump`). A reader reads the version before it reads the
# database, so at worst it stores an old value under an old version, which nobody reads
# again: the race of delete-on-write caching cannot happen.

VERSION_TTL_SECONDS = 7 * 24 * 3600

# In one round trip, for each item: its version (created when missing) and the value stored
# under its prefix + that version. KEYS: the version keys. ARGV: the TTL, then per item the
# value key prefix and a fresh token. (Value keys are made here from the versions just read,
# so this needs a single Redis, not a cluster.)
_VERSIONED_LUA = """
local ttl = ARGV[1]
local out = {}
for i, version_key in ipairs(KEYS) do
  local prefix, token = ARGV[2 * i], ARGV[2 * i + 1]
  local version = redis.call('GET', version_key)
  if not version then
    version = token
    redis.call('SET', version_key, version, 'EX', ttl)
  end
  out[2 * i - 1] = version
  out[2 * i] = redis.call('GET', prefix .. version)
end
return out
"""
_scripts: dict[str, Script] = {}


def versioned_lookup(client: Redis, items: list[tuple[str, str]]) -> list[tuple[str, bytes | None]]:
    """For each (version key, value key prefix): the current version and the value stored
    under prefix + version (None if none), in one round trip."""
    if not items:
        return []
    if "versioned" not in _scripts:
        _scripts["versioned"] = client.register_script(_VERSIONED_LUA)
    args: list[object] = [VERSION_TTL_SECONDS]
    for _, prefix in items:
        args += [prefix, secrets.token_hex(4)]
    values = _scripts["versioned"](keys=[key for key, _ in items], args=args, client=client)
    return [(values[2 * n].decode(), values[2 * n + 1]) for n in range(len(items))]


def version_bump(pipe: Pipeline | Redis, version_key: str) -> None:
    pipe.set(version_key, secrets.token_hex(4), ex=VERSION_TTL_SECONDS)


def cached_by_version(name: str, compute: Callable[[], T | None], ttl: int) -> T | None:
    """COMPUTE's result (picklable; None is not cached) under NAME's current version, for
    TTL seconds; computed (from the database) when Redis is unavailable."""

    def work(client: Redis) -> tuple[T | None]:
        ((version, stored),) = versioned_lookup(
            client, [(cache_key(client, "v", name), cache_key(client, name, ""))]
        )
        if stored is not None:
            return (pickle.loads(stored),)  # noqa: S301 - our own Redis, our own values
        value = compute()
        if value is not None:
            client.set(cache_key(client, name, version), pickle.dumps(value), ex=ttl)
        return (value,)

    found = redis_call(work)
    return compute() if found is None else found[0]


def version_bump_on_commit(*names: str) -> None:
    """After the current transaction commits, give these names new versions (their cached
    values are then computed again)."""

    def bump() -> None:
        def work(client: Redis) -> None:
            with client.pipeline() as pipe:
                for name in names:
                    version_bump(pipe, cache_key(client, "v", name))
                pipe.execute()

        redis_call(work, invalidates=True)

    transaction.on_commit(bump, robust=True)
