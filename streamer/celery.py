"""The Celery app. Tasks live in `<app>/tasks.py` as `@shared_task`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamer.settings")

app = Celery("streamer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
