"""Test overrides: fast password hashing, media under var/test-media, separate broker, cache
and topic."""

from .settings import *  # noqa: F403
from .settings import VAR_DIR, env, local_redis_url

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = VAR_DIR / "test-media"
CONN_MAX_AGE = 0

# Tests use their own Redis databases and topic, so a `make run` stack on the same services
# never consumes a test's tasks or events.
CELERY_BROKER_URL = env.str("TEST_CELERY_BROKER_URL", default=local_redis_url(2))
CELERY_RESULT_BACKEND = env.str("TEST_CELERY_RESULT_BACKEND", default=local_redis_url(3))
KAFKA_EVENTS_TOPIC = env.str("TEST_KAFKA_EVENTS_TOPIC", default="test.streamer.events")
# The real Redis, in a database of its own, emptied before each test (the root conftest.py).
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": env.str("TEST_CACHE_REDIS_URL", default=local_redis_url(4)),
        "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 2},
    }
}
# Tests check what a page shows right after a write; the page cache's own tests turn it on.
ANONYMOUS_PAGE_CACHE_SECONDS = env.int("TEST_ANONYMOUS_PAGE_CACHE_SECONDS", default=0)
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "user": "100000/min", "auth": "100000/min"},
}
# The test client and the browser tests' live server speak plain HTTP.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
