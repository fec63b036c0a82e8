"""Consistency check of a running stack, printed as one JSON object (run by the fault harness
with the stack's environment: DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, KAFKA_EVENTS_TOPIC).

    python -m tests.faults.check            # outbox vs topic vs metric tables vs domain tables
    python -m tests.faults.check --probe    # a member, a post in their community, a slug
    python -m tests.faults.check --health   # Kafka and Spark cluster health, as the dashboard

The check: no outbox row pending or failed; every outbox event_id is on the topic; per event
type, the engagement tables' day-grain sums equal the outbox's events; the net likes,
comments and shares in the metric tables equal the rows in the domain tables; every Kafka
broker is up and no partition of the topic is under-replicated.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from typing import Any

from spark_jobs.contract import COMMUNITY_COUNTS, POST_COUNTS


def topic_event_ids(topic: str, bootstrap: list[str]) -> tuple[set[str], int]:
    """Every event_id on the topic up to its end offsets, and the number of messages."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        if not partitions:
            return set(), 0
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        ids: set[str] = set()
        count = 0
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    count += 1
                    ids.add(json.loads(record.value)["event_id"])
        return ids, count
    finally:
        consumer.close()


def check() -> dict[str, Any]:
    from django.conf import settings
    from django.db.models import Sum

    from analytics.models import CommunityEngagement, PostEngagement
    from events.kafka_admin import kafka_health
    from events.models import OutboxEvent
    from posts.models import Comment, Like, Share

    status = Counter(OutboxEvent.objects.values_list("status", flat=True))
    outbox = dict(OutboxEvent.objects.values_list("event_id", "event_type"))
    outbox_ids = {str(event_id) for event_id in outbox}
    on_topic, messages = topic_event_ids(
        settings.KAFKA_EVENTS_TOPIC, list(settings.KAFKA_BOOTSTRAP_SERVERS)
    )
    by_type = Counter(outbox.values())
    post_sums = PostEngagement.objects.filter(grain="day").aggregate(
        **{name: Sum(name) for name in POST_COUNTS.values()}
    )
    community_sums = CommunityEngagement.objects.filter(grain="day").aggregate(
        **{name: Sum(name) for name in COMMUNITY_COUNTS.values()}
    )
    metrics = {k: int(v or 0) for k, v in {**post_sums, **community_sums}.items()}
    expected = {
        column: by_type.get(event_type, 0)
        for event_type, column in {**POST_COUNTS, **COMMUNITY_COUNTS}.items()
    }
    domain = {
        "net_likes": Like.objects.count(),
        "comments": Comment.objects.count(),
        "shares": Share.objects.count(),
    }
    from_metrics = {
        "net_likes": metrics["likes"] - metrics["unlikes"],
        "comments": metrics["comments"],
        "shares": metrics["shares"],
    }
    missing = outbox_ids - on_topic
    kafka = kafka_health()
    result = {
        "outbox_total": len(outbox_ids),
        "pending": status.get("pending", 0),
        "failed": status.get("failed", 0),
        "topic_messages": messages,
        "topic_duplicates": messages - len(on_topic),
        "missing_from_topic": len(missing),
        "metrics": metrics,
        "expected_from_outbox": expected,
        "domain": domain,
        "domain_from_metrics": from_metrics,
        "brokers_down": list(kafka.brokers_down),
        "under_replicated": kafka.under_replicated,
    }
    result["ok"] = (
        kafka.reachable
        and not kafka.brokers_down
        and kafka.under_replicated == 0
        and result["pending"] == 0
        and result["failed"] == 0
        and not missing
        and metrics == expected
        and domain == from_metrics
    )
    return result


def probe_target() -> dict[str, Any]:
    """A member with a post in their community, for the harness's user-facing probe."""
    from communities.models import Membership
    from posts.models import Post

    for membership in Membership.objects.select_related("user", "community").order_by("id"):
        post = (
            Post.objects.filter(community=membership.community, deleted_at__isnull=True)
            .order_by("id")
            .first()
        )
        if post is not None:
            return {
                "username": membership.user.username,
                "post_id": post.pk,
                "slug": membership.community.slug,
            }
    raise SystemExit("no member with a post: seed first")


def health() -> dict[str, Any]:
    """The Kafka and Spark cluster parts of the pipeline health (what stack_status and the
    dashboard show), with the numbers the fault suite waits for."""
    from analytics.selectors.health import kafka_status, spark_cluster_status

    kafka, spark = kafka_status(), spark_cluster_status()
    cluster = spark.cluster
    return {
        "kafka": {
            "state": kafka.health.state,
            "detail": kafka.health.detail,
            "brokers_down": list(kafka.cluster.brokers_down),
            "under_replicated": kafka.cluster.under_replicated,
        },
        "spark_cluster": {
            "state": spark.health.state,
            "detail": spark.health.detail,
            "workers_alive": cluster.workers_alive if cluster else None,
            "workers_lost": cluster.workers_lost if cluster else None,
            "executors": cluster.executors if cluster else None,
        },
    }


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "streamer.settings")
    import django

    django.setup()
    modes = {"--probe": probe_target, "--health": health}
    mode = next((modes[a] for a in sys.argv[1:] if a in modes), check)
    print(json.dumps(mode()))


if __name__ == "__main__":
    main()
