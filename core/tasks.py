from celery import shared_task


@shared_task
def ping(value: str) -> str:
    """Echo task: proves a worker consumes from the broker and returns results."""
    return f"pong:{value}"
