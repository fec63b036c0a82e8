"""The analytics app's periodic tasks: the trend model's training and prediction through the
Spark runner, and the pruning of old stream-window rows. Created at `migrate` when missing,
then edited in the admin."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from core.beat import PeriodicEntry, periodic_tasks_ensure_after_migrate

TRENDS_TRAIN_TASK_NAME = "trends: train the trend model (Spark)"
TRENDS_PREDICT_TASK_NAME = "trends: predict trending posts (Spark)"
WINDOWS_PRUNE_TASK_NAME = "metrics: prune stream-window rows past retention"
DESCRIPTION = "Created by analytics (see analytics/beat.py); edit freely."


def periodic_entries() -> list[PeriodicEntry]:
    return [
        PeriodicEntry(
            TRENDS_TRAIN_TASK_NAME,
            "analytics.tasks.trends_train",
            settings.TRENDS_TRAIN_MINUTES,
            "minutes",
            settings.TRENDS_TRAIN_MINUTES * 60,
            DESCRIPTION,
        ),
        PeriodicEntry(
            TRENDS_PREDICT_TASK_NAME,
            "analytics.tasks.trends_predict",
            settings.TRENDS_PREDICT_MINUTES,
            "minutes",
            settings.TRENDS_PREDICT_MINUTES * 60,
            DESCRIPTION,
        ),
        PeriodicEntry(
            WINDOWS_PRUNE_TASK_NAME,
            "analytics.tasks.engagement_windows_prune",
            60,
            "minutes",
            3600,
            DESCRIPTION,
        ),
    ]


def periodic_tasks_ensure_on_migrate(**kwargs: Any) -> None:
    periodic_tasks_ensure_after_migrate(periodic_entries(), **kwargs)
