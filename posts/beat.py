"""The feeds' periodic task: the recompute of the ranked listings, in the spirit of Lemmy's
scheduled rank update. Created at `migrate` when missing, then edited in the admin."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from core.beat import PeriodicEntry, periodic_tasks_ensure_after_migrate

LISTINGS_RECOMPUTE_TASK_NAME = "feeds: recompute the ranked listings in Redis"
DESCRIPTION = "Created by the posts app (see posts/beat.py); edit freely."


def periodic_entries() -> list[PeriodicEntry]:
    return [
        PeriodicEntry(
            LISTINGS_RECOMPUTE_TASK_NAME,
            "posts.tasks.listings_recompute",
            settings.FEED_RECOMPUTE_SECONDS,
            "seconds",
            # A recompute that waited longer than its own interval is superseded by the next.
            settings.FEED_RECOMPUTE_SECONDS,
            DESCRIPTION,
        ),
    ]


def periodic_tasks_ensure_on_migrate(**kwargs: Any) -> None:
    periodic_tasks_ensure_after_migrate(periodic_entries(), **kwargs)
