"""The outbox moves here from `analytics`: the model changes app, the table does not.

Only Django's idea of the model moves (state operations). The table, created by
analytics.0001_outbox, keeps its name (`db_table`), its rows and its indexes. The data
operations carry over what names the old app: the model's content type (so admin
permissions granted on the outbox stay granted) and the periodic tasks' task paths."""

from django.db import migrations, models

TASKS = {
    "analytics.tasks.outbox_sweep": "events.tasks.outbox_sweep",
    "analytics.tasks.outbox_purge": "events.tasks.outbox_purge",
}


def names_move(apps, schema_editor, *, forward: bool = True) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    old_app, new_app = ("analytics", "events") if forward else ("events", "analytics")
    if not ContentType.objects.filter(app_label=new_app, model="outboxevent").exists():
        ContentType.objects.filter(app_label=old_app, model="outboxevent").update(
            app_label=new_app
        )
    for old, new in TASKS.items():
        if not forward:
            old, new = new, old
        PeriodicTask.objects.filter(task=old).update(task=new)


def names_move_back(apps, schema_editor) -> None:
    names_move(apps, schema_editor, forward=False)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("analytics", "0003_trend_models"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="OutboxEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("event_id", models.UUIDField(unique=True)),
                        ("event_type", models.CharField(db_index=True, max_length=32)),
                        ("key", models.CharField(help_text="Kafka key: post id, else community id.", max_length=32)),
                        ("envelope", models.JSONField()),
                        ("occurred_at", models.DateTimeField()),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("status", models.CharField(choices=[("pending", "pending"), ("published", "published"), ("failed", "failed (kept, not retried)")], default="pending", max_length=16)),
                        ("published_at", models.DateTimeField(blank=True, null=True)),
                        ("kafka_partition", models.IntegerField(blank=True, null=True)),
                        ("kafka_offset", models.BigIntegerField(blank=True, null=True)),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("last_error", models.TextField(blank=True)),
                    ],
                    options={
                        "db_table": "analytics_outboxevent",
                        "indexes": [
                            models.Index(fields=["status", "id"], name="outbox_status_id"),
                            models.Index(fields=["status", "published_at"], name="outbox_status_published"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(names_move, names_move_back),
    ]
