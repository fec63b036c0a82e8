"""Running the app's own processes from tests (a Celery worker, a Spark job, the generator)
against the test database, and waiting for what they do."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from spark_jobs.contract import DatabaseAddress

REPO_DIR = Path(__file__).resolve().parents[2]


def app_env() -> dict[str, str]:
    """The environment of a child process that must use the database pytest-django set up
    (its NAME is already test_…), with the test settings."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "streamer.settings_test",
        "DATABASE_URL": DatabaseAddress.from_django(settings.DATABASES["default"]).url,
    }


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
