"""The outbox's and the trend model's periodic tasks in django-celery-beat's tables
(DatabaseScheduler), so they show in the admin under Periodic tasks and can be edited there."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection, transaction

OUTBOX_SWEEP_TASK_NAME = "outbox: publish rows left pending"
OUTBOX_PURGE_TASK_NAME = "outbox: purge published rows past retention"
TRENDS_TRAIN_TASK_NAME = "trends: train the trend model (Spark)"
TRENDS_PREDICT_TASK_NAME = "trends: predict trending posts (Spark)"


def periodic_tasks_ensure() -> list[str]:
    """Create the sweep and purge periodic tasks and the trend training and prediction tasks
    when they are missing (intervals from OUTBOX_SWEEP_SECONDS, OUTBOX_PURGE_MINUTES,
    TRENDS_TRAIN_MINUTES and TRENDS_PREDICT_MINUTES). Idempotent: an existing task is left as
    it is, so edits made in the admin survive later migrations. Returns the names created."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    wanted = [
        (
            OUTBOX_SWEEP_TASK_NAME,
            "analytics.tasks.outbox_sweep",
            settings.OUTBOX_SWEEP_SECONDS,
            IntervalSchedule.SECONDS,
            # A sweep that waited longer than its own interval is superseded by the next one.
            settings.OUTBOX_SWEEP_SECONDS * 2,
        ),
        (
            OUTBOX_PURGE_TASK_NAME,
            "analytics.tasks.outbox_purge",
            settings.OUTBOX_PURGE_MINUTES,
            IntervalSchedule.MINUTES,
            settings.OUTBOX_PURGE_MINUTES * 60,
        ),
        (
            TRENDS_TRAIN_TASK_NAME,
            "analytics.tasks.trends_train",
            settings.TRENDS_TRAIN_MINUTES,
            IntervalSchedule.MINUTES,
            settings.TRENDS_TRAIN_MINUTES * 60,
        ),
        (
            TRENDS_PREDICT_TASK_NAME,
            "analytics.tasks.trends_predict",
            settings.TRENDS_PREDICT_MINUTES,
            IntervalSchedule.MINUTES,
            settings.TRENDS_PREDICT_MINUTES * 60,
        ),
    ]
    created = []
    with transaction.atomic():
        for name, task, every, period, expire_seconds in wanted:
            if PeriodicTask.objects.filter(name=name).exists():
                continue
            interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
            PeriodicTask.objects.create(
                name=name,
                task=task,
                interval=interval,
                expire_seconds=expire_seconds,
                description="Created by analytics (see analytics/beat.py); edit freely.",
            )
            created.append(name)
    return created


def periodic_tasks_ensure_after_migrate(**kwargs: Any) -> None:
    """post_migrate receiver: runs once django-celery-beat's tables exist."""
    using = kwargs.get("using", "default")
    if using != "default" or "django_celery_beat_periodictask" not in (
        connection.introspection.table_names()
    ):
        return
    created = periodic_tasks_ensure()
    stdout = kwargs.get("stdout")
    if created and stdout is not None and kwargs.get("verbosity", 1) >= 1:
        stdout.write(f"  Created periodic tasks: {', '.join(created)}\n")
