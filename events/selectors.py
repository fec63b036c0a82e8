"""Reads of the event pipeline's state. The health rule that turns the outbox lag into
green/amber/red lives with the other pipeline rules in `analytics.selectors.health`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from events.models import OutboxEvent


@dataclass(frozen=True)
class OutboxLag:
    pending: int
    failed: int
    oldest_pending_at: datetime | None

    @property
    def oldest_age_seconds(self) -> float:
        if self.oldest_pending_at is None:
            return 0.0
        return max(0.0, (timezone.now() - self.oldest_pending_at).total_seconds())

    def describe(self) -> str:
        text = f"{self.pending} pending"
        if self.pending:
            text += f", oldest {duration_text(self.oldest_age_seconds)} old"
        if self.failed:
            text += f"; {self.failed} failed (see admin: Outbox events, status failed)"
        return text


def outbox_lag() -> OutboxLag:
    """How far the outbox is behind: rows not yet published and the oldest one's age."""
    pending = OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING)
    oldest = pending.order_by("id").values_list("created_at", flat=True).first()
    return OutboxLag(
        pending=pending.count(),
        failed=OutboxEvent.objects.filter(status=OutboxEvent.Status.FAILED).count(),
        oldest_pending_at=oldest,
    )


def duration_text(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}min"
    return f"{seconds / 3600:.1f}h"
