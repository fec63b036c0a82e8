"""Regression found by bench/read_path.py: the feed queries joined community, author and the
shared post's rows, and with 100k posts MariaDB chose to start from auth_user and sort every
post (3 s per home page and post list API call). The page query must stay a single-table
query on posts_post, so it walks the hot/new index and stops after one page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from posts.services import post_create, post_share
from tests.factories import community_make, user_make


def _feed_queries(client, path: str) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return [
        q["sql"] for q in ctx.captured_queries
        if "FROM `posts_post`" in q["sql"] and "ORDER BY" in q["sql"]
    ]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/?sort=new", "/api/v1/posts/", "/c/feeds/"])
def test_feed_page_query_joins_nothing(client, path):
    author = user_make("feeder")
    community = community_make(owner=author, name="Feeds", slug="feeds")
    other = community_make(owner=author, name="Elsewhere", slug="elsewhere")
    post = post_create(author=author, community=community, kind="quote", text="Hello")
    post_share(user=author, post=post, target_community=other)
    queries = _feed_queries(client, path)
    assert queries, "no feed query seen"
    for sql in queries:
        assert " INNER JOIN " not in sql, sql
    body = client.get(path).content.decode()
    assert "Hello" in body  # the related rows still arrive (prefetched)
