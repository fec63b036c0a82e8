from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from communities.services import community_join
from core import web
from posts import selectors, services
from posts.models import Post
from posts.selectors import FeedOrder
from tests.factories import community_make, user_make

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def quote(author, community, text="q", hours_ago: float = 0.0):
    return services.post_create(
        author=author,
        community=community,
        kind="quote",
        text=text,
        occurred_at=NOW - timedelta(hours=hours_ago),
    )


@pytest.fixture
def owner_and_community():
    owner = user_make()
    return owner, community_make(owner=owner)


def fill_feed(owner, community, count: int) -> None:
    """Posts of every shape: quotes, reposts of posts in another community, liked ones."""
    other = community_make(owner=owner)
    for index in range(count):
        post = quote(owner, other if index % 3 == 0 else community, f"post {index}")
        if index % 3 == 0:
            services.post_share(user=owner, post=post, target_community=community, comment="!")
        if index % 2 == 0:
            services.post_like(user=owner, post=post)


def test_feed_page_query_count_does_not_grow_with_page_size(owner_and_community):
    owner, community = owner_and_community
    fill_feed(owner, community, 30)

    def run(per_page: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            page = web.page_of(selectors.post_list_feed(viewer=owner), 1, per_page=per_page)
            for post in page:
                # Everything a card shows, reposts included.
                _ = (post.community.slug, post.author.username, post.liked, post.like_count)
                if post.shared_from_id:
                    _ = (post.shared_from.community.slug, post.shared_from.author.username)
        return len(queries)

    small, large = run(3), run(30)
    # COUNT, the page, then by pk: communities, authors, reposts' communities and authors.
    # (Joined into the page query they made MariaDB sort every post: tests/test_bench_feeds.py.)
    assert small == large == 6


def test_feed_pages_render_in_a_constant_number_of_queries(
    client, owner_and_community, django_assert_max_num_queries
):
    owner, community = owner_and_community
    fill_feed(owner, community, 25)
    client.force_login(owner)
    for url in (reverse("home"), community.get_absolute_url()):
        with django_assert_max_num_queries(14):  # + 4 prefetches (tests/test_bench_feeds.py)
            response = client.get(url)
        assert len(response.context["page"].object_list) == 20


def test_home_feed_is_joined_communities_or_everything_for_anonymous(owner_and_community):
    owner, community = owner_and_community
    stranger = user_make()
    elsewhere = community_make(owner=stranger)
    mine, theirs = quote(owner, community), quote(stranger, elsewhere)

    assert set(selectors.post_list_feed(viewer=owner)) == {mine}
    assert set(selectors.post_list_feed(viewer=AnonymousUser())) == {mine, theirs}
    community_join(user=owner, community=elsewhere)
    assert set(selectors.post_list_feed(viewer=owner)) == {mine, theirs}


def test_sorts(owner_and_community):
    owner, community = owner_and_community
    fresh = quote(owner, community, "fresh", hours_ago=1)
    popular_old = quote(owner, community, "old but loved", hours_ago=30)
    week_old = quote(owner, community, "last week", hours_ago=24 * 5)
    for _ in range(3):
        liker = user_make()
        services.post_like(user=liker, post=week_old)
        services.post_like(user=liker, post=popular_old)
    services.post_like(user=user_make(), post=week_old)

    def ids(order):
        posts = selectors.post_list_community(
            community=community, viewer=owner, order=order, now=NOW
        )
        return [p.pk for p in posts]

    assert ids(FeedOrder("new")) == [fresh.pk, popular_old.pk, week_old.pk]
    assert ids(FeedOrder("hot")) == [fresh.pk, popular_old.pk, week_old.pk]
    assert ids(FeedOrder("top", "day")) == [fresh.pk]
    assert ids(FeedOrder("top", "week")) == [week_old.pk, popular_old.pk, fresh.pk]
    assert ids(FeedOrder("top", "all"))[0] == week_old.pk


def test_hot_uses_the_indexed_column(owner_and_community):
    owner, community = owner_and_community
    quote(owner, community)
    sql = str(selectors.post_list_feed(viewer=AnonymousUser()).query)
    assert "ORDER BY `posts_post`.`hot_score` DESC" in sql


def test_feed_order_parsing_falls_back_to_defaults():
    assert FeedOrder.parse("top", "day") == FeedOrder("top", "day")
    assert FeedOrder.parse("drop table", None) == FeedOrder("hot", "week")


def test_deleted_posts_leave_feeds_and_profiles(owner_and_community):
    owner, community = owner_and_community
    post = quote(owner, community)
    services.post_delete(actor=owner, post=post)
    assert list(selectors.post_list_feed(viewer=AnonymousUser())) == []
    assert list(selectors.post_list_author(author=owner, viewer=owner)) == []
    assert selectors.post_get_for_viewer(post_id=post.pk, viewer=owner) is None


def test_liked_flag_is_per_viewer(owner_and_community):
    owner, community = owner_and_community
    post = quote(owner, community)
    fan = user_make()
    services.post_like(user=fan, post=post)
    assert selectors.post_get_for_viewer(post_id=post.pk, viewer=fan).liked is True
    assert selectors.post_get_for_viewer(post_id=post.pk, viewer=owner).liked is False
    assert selectors.post_get_for_viewer(post_id=post.pk, viewer=AnonymousUser()).liked is False


def test_comment_threads_flatten_in_reading_order_in_two_queries(owner_and_community):
    owner, community = owner_and_community
    post = quote(owner, community)
    first = services.comment_create(author=owner, post=post, body="1")
    second = services.comment_create(author=owner, post=post, body="2")
    reply = services.comment_create(author=owner, post=post, body="1.1", parent=first)
    deep = reply
    for level in range(8):
        deep = services.comment_create(author=owner, post=post, body=f"deep {level}", parent=deep)
    late_reply = services.comment_create(author=owner, post=post, body="1.2", parent=first)

    with CaptureQueriesContext(connection) as queries:
        page = selectors.comment_threads(post=post, page_number=1)
        bodies = [(c.body, c.indent) for c in page.object_list]
        _ = [c.author.username for c in page.object_list]
    assert len(queries) == 3  # COUNT, the page of threads, all their replies
    assert bodies[:3] == [("1", 0), ("1.1", 1), ("deep 0", 2)]
    assert bodies[-2:] == [("1.2", 1), ("2", 0)]
    assert max(indent for _, indent in bodies) == selectors.MAX_INDENT
    assert late_reply.pk and second.pk


def test_share_targets_exclude_the_original_community(owner_and_community):
    owner, community = owner_and_community
    second = community_make(owner=owner)
    post = quote(owner, community)
    assert list(selectors.share_targets(user=owner, post=post)) == [second]


@pytest.mark.django_db
def test_page_counts_stop_at_the_cap(monkeypatch):
    monkeypatch.setattr(web, "COUNT_CAP", 3)
    owner = user_make()
    community = community_make(owner=owner)
    for n in range(5):
        services.post_create(author=owner, community=community, kind="quote", text=f"q {n}")

    page = web.page_of(Post.objects.order_by("-pk"), 1, per_page=2)

    assert page.paginator.count == 3 and page.paginator.num_pages == 2
    assert len(page.object_list) == 2
