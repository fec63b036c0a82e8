"""Streamer settings. Every value can come from the environment (or a `.env` file); the
defaults point at the local stack that `make run` starts, so nothing needs configuring."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from spark_jobs.contract import (
    DEFAULT_DATABASE_URL,
    local_events_topic,
    local_kafka_bootstrap,
    local_redis_url,
    local_spark_engagement_cores,
    local_spark_master,
    local_spark_master_ui,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Safe by default: DEBUG is on only where a local development command sets it (infra/run.sh).
DEBUG = env.bool("DEBUG", default=False)


def _local_secret_key(path: Path) -> str:
    """A random key kept in var/ for this checkout, made on first use (mode 0600), so no key
    is ever shared through the repository. Several hosts must share SECRET_KEY instead."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = secrets.token_urlsafe(50)
    with os.fdopen(descriptor, "w") as out:
        out.write(key)
    return key


SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret_key(VAR_DIR / "secret_key")
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "dashboard.apps.DashboardAdminConfig",  # django.contrib.admin + the Analytics dashboard
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "csp",
    "core",
    "events",
    "accounts",
    "communities",
    "posts",
    "analytics",
    "dashboard",
    "generator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.middleware.RequestSizeLimitMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so it turns a locked-out login (any view that authenticates) into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "streamer.urls"
WSGI_APPLICATION = "streamer.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=DEFAULT_DATABASE_URL)}
DATABASES["default"].setdefault("OPTIONS", {}).update({"charset": "utf8mb4"})
DATABASES["default"]["TEST"] = {
    "NAME": env.str("TEST_DATABASE_NAME", default=None),
    "CHARSET": "utf8mb4",
    "COLLATION": "utf8mb4_unicode_ci",
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out login before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))

# Requests larger than the largest upload (a 100 MB video) plus form overhead get a 413.
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=105 * 1024 * 1024)

# Media: local files under var/media by default; S3-compatible storage when
# STORAGE_BACKEND=s3 (see README for the AWS_* variables django-storages reads).
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGE_BACKEND = env.str("STORAGE_BACKEND", default="local")
if STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("AWS_S3_REGION_NAME", default=None),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=None),
            "custom_domain": env.str("AWS_S3_CUSTOM_DOMAIN", default=None),
            "file_overwrite": False,
            "default_acl": None,
        },
    }
elif STORAGE_BACKEND == "local":
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise ImproperlyConfigured("STORAGE_BACKEND must be 'local' or 's3'.")
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The cache (API throttling counters, feed listings and rendered post cards) is shared by every
# web process. On Redis it goes through django-redis with short timeouts and errors ignored:
# a Redis outage costs cache misses (pages and the API read the database; see core/cache.py),
# never an error. CACHE_RETRY_SECONDS: how long a process leaves Redis alone after a failure.
CACHES = {"default": env.cache("CACHE_URL", default=local_redis_url(10, "rediscache"))}
if CACHES["default"]["BACKEND"].endswith(".RedisCache"):
    CACHES["default"]["BACKEND"] = "django_redis.cache.RedisCache"
    CACHES["default"].setdefault("OPTIONS", {}).update(
        IGNORE_EXCEPTIONS=True,
        SOCKET_CONNECT_TIMEOUT=env.float("CACHE_SOCKET_TIMEOUT", default=0.25),
        SOCKET_TIMEOUT=env.float("CACHE_SOCKET_TIMEOUT", default=0.25),
    )
CACHE_RETRY_SECONDS = env.float("CACHE_RETRY_SECONDS", default=5.0)

# Ranked feed listings in Redis (posts/listings.py) and cached post cards (posts/cards.py): ids
# kept per listing (deeper pages read the database), how long an unread listing is kept, the
# interval of the periodic recompute (a periodic task created at `migrate`, then edited in the
# admin), and how long a rendered card is kept.
FEED_LISTING_SIZE = env.int("FEED_LISTING_SIZE", default=1000)
FEED_LISTING_IDLE_SECONDS = env.int("FEED_LISTING_IDLE_SECONDS", default=600)
FEED_RECOMPUTE_SECONDS = env.int("FEED_RECOMPUTE_SECONDS", default=60)
FEED_CARD_TTL_SECONDS = env.int("FEED_CARD_TTL_SECONDS", default=24 * 3600)
# Feed pages as signed-out visitors see them, kept whole for this many seconds (0: off); they
# may see counts that old. Signed-in people always get a fresh page (core/pagecache.py).
ANONYMOUS_PAGE_CACHE_SECONDS = env.int("ANONYMOUS_PAGE_CACHE_SECONDS", default=5)

# Celery: Redis is the broker; django-celery-beat keeps the schedule in the database.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=local_redis_url(0))
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=local_redis_url(1))
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# A Redis outage must not hang web requests: connecting gives up after a few seconds. Task
# publishes are retried briefly by default; the outbox nudge after a commit is not retried at
# all (events.tasks.publish_soon_on_commit), since the periodic sweep covers a lost one.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": env.float("CELERY_REDIS_SOCKET_CONNECT_TIMEOUT", default=2.0),
    "socket_timeout": env.float("CELERY_REDIS_SOCKET_TIMEOUT", default=10.0),
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"]
CELERY_REDIS_SOCKET_TIMEOUT = CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"]

# Kafka and Spark.
# The defaults follow STREAMER_TOPOLOGY (single broker or the local three-node cluster, see
# spark_jobs/contract.py). Every topic the app creates (events.kafka_admin.topic_ensure) gets
# the replication factor and min.insync.replicas below.
KAFKA_BOOTSTRAP_SERVERS = env.list(
    "KAFKA_BOOTSTRAP_SERVERS", default=local_kafka_bootstrap().split(",")
)
KAFKA_EVENTS_TOPIC = env.str("KAFKA_EVENTS_TOPIC", default="streamer.events")
KAFKA_EVENTS_PARTITIONS = env.int(
    "KAFKA_EVENTS_PARTITIONS", default=local_events_topic().partitions
)
KAFKA_EVENTS_REPLICATION_FACTOR = env.int(
    "KAFKA_EVENTS_REPLICATION_FACTOR", default=local_events_topic().replication_factor
)
KAFKA_EVENTS_MIN_INSYNC_REPLICAS = env.int(
    "KAFKA_EVENTS_MIN_INSYNC_REPLICAS", default=local_events_topic().min_insync_replicas
)
KAFKA_EVENTS_RETENTION_MS = env.int("KAFKA_EVENTS_RETENTION_MS", default=7 * 24 * 3600 * 1000)
# The outbox publisher's producer (events.publisher): acks=all and idempotence are fixed.
# Its max request size follows the topic's max.message.bytes, read when the producer starts;
# KAFKA_MAX_MESSAGE_BYTES is used when the topic's setting cannot be read.
KAFKA_PRODUCER_COMPRESSION = env.str("KAFKA_PRODUCER_COMPRESSION", default="zstd")
KAFKA_PRODUCER_LINGER_MS = env.int("KAFKA_PRODUCER_LINGER_MS", default=5)
KAFKA_PRODUCER_BATCH_BYTES = env.int("KAFKA_PRODUCER_BATCH_BYTES", default=128 * 1024)
KAFKA_PRODUCER_REQUEST_TIMEOUT_MS = env.int("KAFKA_PRODUCER_REQUEST_TIMEOUT_MS", default=10_000)
KAFKA_PRODUCER_DELIVERY_TIMEOUT_MS = env.int("KAFKA_PRODUCER_DELIVERY_TIMEOUT_MS", default=20_000)
KAFKA_PRODUCER_MAX_BLOCK_MS = env.int("KAFKA_PRODUCER_MAX_BLOCK_MS", default=5_000)
KAFKA_MAX_MESSAGE_BYTES = env.int("KAFKA_MAX_MESSAGE_BYTES", default=1_048_576)

SPARK_MASTER = env.str("SPARK_MASTER", default=local_spark_master())
# A standalone master's web UI (its /json/ lists the workers and applications) for the pipeline
# health; empty when there is none to ask (local mode, or a cluster manager without it).
SPARK_MASTER_UI_URL = env.str("SPARK_MASTER_UI_URL", default=local_spark_master_ui())
# spark.cores.max of the streaming job and of each trend job (None: every core offered).
SPARK_ENGAGEMENT_CORES_MAX = env.int(
    "SPARK_ENGAGEMENT_CORES_MAX", default=local_spark_engagement_cores()
)
SPARK_TRENDS_CORES_MAX = env.int("SPARK_TRENDS_CORES_MAX", default=1)
SPARK_JARS_DIR = env.path("SPARK_JARS_DIR", default=str(VAR_DIR / "jars" / "spark"))
SPARK_CHECKPOINT_DIR = env.path("SPARK_CHECKPOINT_DIR", default=str(VAR_DIR / "checkpoints"))

# Trend predictions (analytics/services/trends.py, spark_jobs/trends). The training and prediction
# periodic tasks are created from TRENDS_TRAIN_MINUTES / TRENDS_PREDICT_MINUTES when `migrate`
# runs and they are missing; after that the admin (Periodic tasks) is the source of truth.
TRENDS_MODEL_DIR = env.path("TRENDS_MODEL_DIR", default=str(VAR_DIR / "models"))
TRENDS_TRAIN_MINUTES = env.int("TRENDS_TRAIN_MINUTES", default=60)
TRENDS_PREDICT_MINUTES = env.int("TRENDS_PREDICT_MINUTES", default=5)
TRENDS_HORIZON_MINUTES = env.int("TRENDS_HORIZON_MINUTES", default=60)
TRENDS_HISTORY_HOURS = env.float("TRENDS_HISTORY_HOURS", default=72.0)
TRENDS_STEP_MINUTES = env.int("TRENDS_STEP_MINUTES", default=15)
TRENDS_MAX_AGE_HOURS = env.float("TRENDS_MAX_AGE_HOURS", default=48.0)
TRENDS_HOLDOUT_FRACTION = env.float("TRENDS_HOLDOUT_FRACTION", default=0.25)
TRENDS_ALGORITHMS = env.list("TRENDS_ALGORITHMS", default=["hurdle"])
# Until a model is promoted, the prediction task trains one itself (once there is enough
# activity), at most once per this many minutes.
TRENDS_FIRST_TRAINING_RETRY_MINUTES = env.int("TRENDS_FIRST_TRAINING_RETRY_MINUTES", default=15)
TRENDS_STORE_TOP = env.int("TRENDS_STORE_TOP", default=500)
TRENDS_RETENTION_HOURS = env.int("TRENDS_RETENTION_HOURS", default=24)

# Transactional outbox. The sweep and purge periodic tasks are created from these values
# when `migrate` runs and missing; after that the admin (Periodic tasks) is the source of truth.
# Off only to measure what the pipeline costs a request (bench/write_path.py): actions then
# append no outbox event at all, so nothing reaches Kafka or the metrics.
EVENTS_ENABLED = env.bool("EVENTS_ENABLED", default=True)
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=5000)
OUTBOX_SWEEP_SECONDS = env.int("OUTBOX_SWEEP_SECONDS", default=5)
OUTBOX_RETENTION_HOURS = env.int("OUTBOX_RETENTION_HOURS", default=72)
OUTBOX_PURGE_MINUTES = env.int("OUTBOX_PURGE_MINUTES", default=60)
OUTBOX_PUBLISH_BUDGET_SECONDS = env.float("OUTBOX_PUBLISH_BUDGET_SECONDS", default=60.0)
OUTBOX_BACKOFF_MAX_SECONDS = env.int("OUTBOX_BACKOFF_MAX_SECONDS", default=60)
# The outbox is red (stack_status: down) when its oldest pending event is older than this, or
# any event failed; amber from a quarter of it (analytics.selectors.health).
OUTBOX_LAG_ALERT_SECONDS = env.int("OUTBOX_LAG_ALERT_SECONDS", default=60)

# Analytics dashboard (admin "Analytics" page and /api/v1/analytics/summary/): how often the
# page refreshes, and when a pipeline part turns amber or red (analytics.selectors.health;
# the outbox by OUTBOX_LAG_ALERT_SECONDS above):
# - Spark job: amber/red when it is ANALYTICS_SPARK_LAG_*_EVENTS messages behind the topic, or
#   behind at all with no batch for ANALYTICS_SPARK_STALE_*_SECONDS; amber with no batch yet
#   or when the lag cannot be read;
# - dead letters: amber/red at ANALYTICS_DEAD_LETTERS_* messages rejected in the last 24 hours;
# - Kafka: red when unreachable, the topic is missing, or a partition is offline or below its
#   min.insync.replicas; amber with a broker down or a partition under-replicated;
# - Spark cluster (a standalone master at SPARK_MASTER_UI_URL): red when the master does not
#   answer or no worker is alive; amber with a worker lost or the job running without executors.
# What Kafka and the Spark master answer (the job's lag, brokers and topic, workers and
# executors) is cached ANALYTICS_PROBE_CACHE_SECONDS, so refreshing dashboards share one lookup.
ANALYTICS_DASHBOARD_REFRESH_SECONDS = env.int("ANALYTICS_DASHBOARD_REFRESH_SECONDS", default=5)
ANALYTICS_SPARK_LAG_AMBER_EVENTS = env.int("ANALYTICS_SPARK_LAG_AMBER_EVENTS", default=1_000)
ANALYTICS_SPARK_LAG_RED_EVENTS = env.int("ANALYTICS_SPARK_LAG_RED_EVENTS", default=10_000)
ANALYTICS_SPARK_STALE_AMBER_SECONDS = env.int("ANALYTICS_SPARK_STALE_AMBER_SECONDS", default=60)
ANALYTICS_SPARK_STALE_RED_SECONDS = env.int("ANALYTICS_SPARK_STALE_RED_SECONDS", default=300)
ANALYTICS_PROBE_CACHE_SECONDS = env.int("ANALYTICS_PROBE_CACHE_SECONDS", default=5)
ANALYTICS_DEAD_LETTERS_AMBER = env.int("ANALYTICS_DEAD_LETTERS_AMBER", default=1)
ANALYTICS_DEAD_LETTERS_RED = env.int("ANALYTICS_DEAD_LETTERS_RED", default=100)
# Stream-window (minute) metric rows are deleted after this many hours by a periodic task;
# hour and day rows are kept.
ANALYTICS_WINDOW_RETENTION_HOURS = env.int("ANALYTICS_WINDOW_RETENTION_HOURS", default=7 * 24)

# Behind a reverse proxy, set NUM_PROXIES to the number of proxies in front of the app: the
# client address is then taken that far from the right of X-Forwarded-For. With 0 (the
# default) the header is ignored and the address is the socket's, so a client cannot dodge
# throttles or lockouts by sending the header (core.api.client_address has the one rule).
NUM_PROXIES = env.int("NUM_PROXIES", default=0)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "core.api_docs.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.auth.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    # JSON bodies only (uploads: the endpoints that take files add multipart themselves). A
    # form field sent empty reads as absent in DRF, which a schema cannot say.
    "DEFAULT_PARSER_CLASSES": ["core.parsers.DepthLimitedJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.StandardPagination",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="120/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
        "auth": env.str("API_THROTTLE_AUTH", default="30/min"),
    },
    "NUM_PROXIES": NUM_PROXIES,
    "EXCEPTION_HANDLER": "core.api.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# JSON bodies nested deeper than this are refused with 400 before they are parsed.
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)
# API tokens expire this many hours after they were issued (accounts.auth).
API_TOKEN_TTL_HOURS = env.int("API_TOKEN_TTL_HOURS", default=7 * 24)
SPECTACULAR_SETTINGS = {
    "TITLE": "Streamer API",
    "DESCRIPTION": "Communities, posts and their engagement analytics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files come from the drf-spectacular-sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# Login lockouts (django-axes): LOGIN_FAILURE_LIMIT wrong passwords for one username, or from
# one client address, lock that username or address out of every login (the login page, the
# admin's, the API token endpoint) for LOGIN_COOLOFF_MINUTES; a success resets the count.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.api.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.views.login_locked_out"
AXES_VERBOSE = False

# Content Security Policy in every mode: the pages load scripts, styles, images and media from
# this site only (no inline script, no inline style); CSP_MEDIA_ORIGINS adds origins for
# uploaded media served elsewhere (S3, a CDN).
_MEDIA_ORIGINS = env.list("CSP_MEDIA_ORIGINS", default=[])
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *_MEDIA_ORIGINS],
        "media-src": ["'self'", *_MEDIA_ORIGINS],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# HTTPS: on unless DEBUG is on; a local stack serving plain HTTP with DEBUG off (a benchmark,
# the tests) turns SECURE_SSL_REDIRECT and SECURE_COOKIES off explicitly.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if NUM_PROXIES:
    # Only a configured proxy may say the original request was HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"kafka": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
