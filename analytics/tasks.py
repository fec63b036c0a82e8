from celery import shared_task


@shared_task(ignore_result=True)
def outbox_publish() -> int:
    """Publish pending outbox rows to Kafka. Built in the event-pipeline issue."""
    from analytics.publisher import outbox_publish_pending

    return outbox_publish_pending()
