"""Pointing the cache at a Redis that is not there (a closed port), for the tests of the
read path without Redis."""

from __future__ import annotations

import socket

from core.cache import cache_state_reset


def closed_port() -> int:
    """A local port nothing listens on (bound once to find it, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cache_redis_point(settings, url: str, *, forget: bool = True) -> None:
    """Point the `default` cache (and so the feed listings and cards) at URL, with the
    pytest-django `settings` fixture; FORGET this process's view of the old Redis (its
    breaker, and whether it lost invalidations)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5},
        }
    }
    if forget:
        cache_state_reset()


def cache_redis_stop(settings) -> None:
    cache_redis_point(settings, f"redis://127.0.0.1:{closed_port()}/0")
