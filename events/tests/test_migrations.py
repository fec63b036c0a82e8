"""The outbox moved from `analytics` to `events` without touching its table: a database
migrated at the previous head keeps its rows, permissions and periodic tasks."""

import uuid

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from events.models import OutboxEvent

PREVIOUS_HEAD = [("analytics", "0003_trend_models"), ("events", None)]


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def migrate_to_head() -> None:
    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_a_database_at_the_previous_head_keeps_its_outbox_after_migrate():
    event_id = uuid.uuid4()
    try:
        migrate(PREVIOUS_HEAD)
        # The old code's writes, in the old app's names.
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO analytics_outboxevent (event_id, event_type, `key`, envelope, "
                "occurred_at, created_at, status, attempts, last_error) VALUES "
                "(%s, 'post_liked', '5', '{}', NOW(6), NOW(6), 'published', 1, '')",
                [event_id.hex],
            )
        old_type = ContentType.objects.get(app_label="analytics", model="outboxevent")
        permission = Permission.objects.get(content_type=old_type, codename="view_outboxevent")
        every_5s, _ = IntervalSchedule.objects.get_or_create(every=5, period="seconds")
        PeriodicTask.objects.filter(name="old sweep").delete()
        sweep = PeriodicTask.objects.create(
            name="old sweep", task="analytics.tasks.outbox_sweep", interval=every_5s
        )

        migrate_to_head()

        row = OutboxEvent.objects.get(event_id=event_id)
        assert (row.event_type, row.key, row.status) == ("post_liked", "5", "published")
        permission.refresh_from_db()
        assert (permission.content_type.app_label, permission.content_type.model) == (
            "events",
            "outboxevent",
        )
        sweep.refresh_from_db()
        assert sweep.task == "events.tasks.outbox_sweep"
    finally:
        migrate_to_head()
        PeriodicTask.objects.filter(name="old sweep").delete()
