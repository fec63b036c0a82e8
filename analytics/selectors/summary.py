"""The analytics summary: the KPIs, the pipeline's health and the latest model run, in one
read for the summary API and the dashboard's tiles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from analytics.selectors.engagement import (
    MinuteCount,
    active_users_count,
    events_per_minute,
    today_counts,
)
from analytics.selectors.health import (
    DeadLetterStatus,
    Health,
    KafkaStatus,
    OutboxStatus,
    SparkClusterStatus,
    SparkStatus,
    dead_letter_status,
    kafka_status,
    outbox_status,
    spark_cluster_status,
    spark_status,
    worst,
)
from analytics.selectors.trends import model_run_latest


@dataclass
class Summary:
    generated_at: datetime
    events_per_minute: float
    events_last_5_minutes: list[MinuteCount]
    active_users_24h: int
    today: dict[str, int]
    outbox: OutboxStatus
    kafka: KafkaStatus
    spark_cluster: SparkClusterStatus
    spark: SparkStatus
    dead_letters: DeadLetterStatus
    health: Health
    model_run: dict[str, Any] | None


def analytics_summary(*, now: datetime | None = None) -> Summary:
    now = now or timezone.now()
    minutes = events_per_minute(now=now)
    outbox = outbox_status()
    kafka = kafka_status()
    spark_cluster = spark_cluster_status()
    spark = spark_status(now=now)
    dead_letters = dead_letter_status(now=now)
    parts = (outbox, kafka, spark_cluster, spark, dead_letters)
    return Summary(
        generated_at=now,
        events_per_minute=round(sum(m.events for m in minutes) / len(minutes), 1),
        events_last_5_minutes=minutes,
        active_users_24h=active_users_count(since=now - timedelta(hours=24)),
        today=today_counts(now=now),
        outbox=outbox,
        kafka=kafka,
        spark_cluster=spark_cluster,
        spark=spark,
        dead_letters=dead_letters,
        health=worst(part.health.state for part in parts),
        model_run=model_run_latest(),
    )
