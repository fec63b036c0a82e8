"""Likes, comments and shares racing on one post from several real database connections."""

import threading

import pytest
from django.db import close_old_connections, connection

from communities.services import community_join
from events.models import OutboxEvent
from posts import services
from posts.models import Like, Post
from tests.factories import community_make, user_make

pytestmark = pytest.mark.django_db(transaction=True)


def run_in_threads(jobs) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(jobs))

    def worker(job):
        try:
            barrier.wait(timeout=10)
            job()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    close_old_connections()
    return errors


def test_concurrent_likes_comments_and_shares_keep_counters_exact():
    owner = user_make()
    community = community_make(owner=owner)
    post = services.post_create(author=owner, community=community, kind="quote", text="race")
    people = [user_make() for _ in range(4)]
    for person in people:
        community_join(user=person, community=community)

    def like(person):
        return lambda: services.post_like(user=person, post=Post.objects.get(pk=post.pk))

    def comment(person):
        return lambda: services.comment_create(
            author=person, post=Post.objects.get(pk=post.pk), body="hi"
        )

    def share(person):
        return lambda: services.post_share(user=person, post=Post.objects.get(pk=post.pk))

    # Each person likes twice at the same time (idempotent), comments and shares once.
    jobs = [like(p) for p in people] + [like(p) for p in people]
    jobs += [comment(p) for p in people] + [share(p) for p in people]
    assert run_in_threads(jobs) == []

    post.refresh_from_db()
    assert post.like_count == Like.objects.filter(post=post).count() == 4
    assert post.comment_count == post.comments.count() == 4
    assert post.share_count == post.shares.count() == 4
    assert OutboxEvent.objects.filter(event_type="post_liked").count() == 4
