"""Periodic tasks kept in django-celery-beat's tables (DatabaseScheduler), so they show in the
admin under Periodic tasks and can be edited there. Each app lists its own entries and calls
`periodic_tasks_ensure_after_migrate` from a post_migrate receiver."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction


@dataclass(frozen=True)
class PeriodicEntry:
    name: str
    task: str
    every: int
    period: str  # an IntervalSchedule period: "seconds", "minutes", ...
    expire_seconds: int
    description: str


def periodic_tasks_ensure(entries: Sequence[PeriodicEntry]) -> list[str]:
    """Create the entries that are missing. Idempotent: an existing task is left as it is, so
    edits made in the admin survive later migrations. Returns the names created."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    created = []
    with transaction.atomic():
        for entry in entries:
            if PeriodicTask.objects.filter(name=entry.name).exists():
                continue
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=entry.every, period=entry.period
            )
            PeriodicTask.objects.create(
                name=entry.name,
                task=entry.task,
                interval=interval,
                expire_seconds=entry.expire_seconds,
                description=entry.description,
            )
            created.append(entry.name)
    return created


def periodic_tasks_ensure_after_migrate(entries: Sequence[PeriodicEntry], **kwargs: Any) -> None:
    """The body of a post_migrate receiver: runs once django-celery-beat's tables exist."""
    using = kwargs.get("using", "default")
    if using != "default" or "django_celery_beat_periodictask" not in (
        connection.introspection.table_names()
    ):
        return
    created = periodic_tasks_ensure(entries)
    stdout = kwargs.get("stdout")
    if created and stdout is not None and kwargs.get("verbosity", 1) >= 1:
        stdout.write(f"  Created periodic tasks: {', '.join(created)}\n")
