"""The feeds' Celery task. Thin: the work is in `posts.listings`."""

from celery import shared_task

from posts import listings


@shared_task(ignore_result=True)
def listings_recompute() -> int:
    """Rebuild the ranked listings read lately from the database (top-of-period windows
    move on, trending follows the newest batch, lost updates are repaired). Run by Celery
    beat every FEED_RECOMPUTE_SECONDS."""
    return listings.listings_recompute()
