from django.db import models

from spark_jobs import contract


class OutboxEvent(models.Model):
    """An event waiting to be (or already) published to Kafka: the transactional outbox.

    Rows are written by `events.services.event_append` in the same transaction as the action
    they describe, and published in `id` order by `events.publisher`. The table keeps the name
    it had when the outbox lived in `analytics` (migrations moved the model, not the rows)."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        PUBLISHED = "published", "published"
        FAILED = "failed", "failed (kept, not retried)"

    event_id = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=32, db_index=True)
    key = models.CharField(max_length=32, help_text="Kafka key: post id, else community id.")
    envelope = models.JSONField()
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    published_at = models.DateTimeField(null=True, blank=True)
    kafka_partition = models.IntegerField(null=True, blank=True)
    kafka_offset = models.BigIntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        db_table = contract.Tables.OUTBOX
        indexes = [
            models.Index(fields=["status", "id"], name="outbox_status_id"),
            models.Index(fields=["status", "published_at"], name="outbox_status_published"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} ({self.status})"
