"""The outbox's periodic tasks: the sweep that publishes rows left pending, and the purge of
published rows past retention. Created at `migrate` when missing, then edited in the admin."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from core.beat import PeriodicEntry, periodic_tasks_ensure_after_migrate

OUTBOX_SWEEP_TASK_NAME = "outbox: publish rows left pending"
OUTBOX_PURGE_TASK_NAME = "outbox: purge published rows past retention"
DESCRIPTION = "Created by the events app (see events/beat.py); edit freely."


def periodic_entries() -> list[PeriodicEntry]:
    return [
        PeriodicEntry(
            OUTBOX_SWEEP_TASK_NAME,
            "events.tasks.outbox_sweep",
            settings.OUTBOX_SWEEP_SECONDS,
            "seconds",
            # A sweep that waited longer than its own interval is superseded by the next one.
            settings.OUTBOX_SWEEP_SECONDS * 2,
            DESCRIPTION,
        ),
        PeriodicEntry(
            OUTBOX_PURGE_TASK_NAME,
            "events.tasks.outbox_purge",
            settings.OUTBOX_PURGE_MINUTES,
            "minutes",
            settings.OUTBOX_PURGE_MINUTES * 60,
            DESCRIPTION,
        ),
    ]


def periodic_tasks_ensure_on_migrate(**kwargs: Any) -> None:
    periodic_tasks_ensure_after_migrate(periodic_entries(), **kwargs)
