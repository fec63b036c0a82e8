"""Signed-out visitors get the home and community pages from the short-lived page cache
(core/pagecache.py): the same bytes within the window, a fresh page after it, and
signed-in people never see a cached page."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from posts import services
from tests.factories import community_make, user_make
from tests.support.cache import cache_redis_stop

pytestmark = pytest.mark.django_db

WINDOW = 2


@pytest.fixture
def page_cache(settings):
    settings.ANONYMOUS_PAGE_CACHE_SECONDS = WINDOW


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    owner = user_make("owner")
    with django_capture_on_commit_callbacks(execute=True):
        community = community_make(owner=owner, name="Readers")
        services.post_create(author=owner, community=community, kind="quote", text="the first")
    return owner, community


def post_later(owner, community, text: str, capture) -> None:
    with capture(execute=True):
        services.post_create(author=owner, community=community, kind="quote", text=text)


@pytest.mark.parametrize("path", ["/", "/c/readers/", "/?sort=new"])
def test_signed_out_visitors_share_a_page_for_the_window_then_get_a_fresh_one(
    page_cache, world, path, django_assert_num_queries, django_capture_on_commit_callbacks
):
    owner, community = world
    visitor = Client()
    first = visitor.get(path)
    assert first.status_code == 200 and "the first" in first.content.decode()
    post_later(owner, community, "the second", django_capture_on_commit_callbacks)

    with django_assert_num_queries(0):
        again = Client().get(path)  # another visitor, within the window: the stored page
    assert again.content == first.content and "the second" not in again.content.decode()
    member = Client()
    member.force_login(owner)
    assert "the second" in member.get(path).content.decode()

    time.sleep(WINDOW + 0.2)
    assert "the second" in Client().get(path).content.decode()


def test_no_page_is_stored_when_the_cache_is_off_or_the_answer_is_not_a_page(
    settings, world, django_capture_on_commit_callbacks
):
    owner, community = world
    settings.ANONYMOUS_PAGE_CACHE_SECONDS = 0
    Client().get("/")
    post_later(owner, community, "right away", django_capture_on_commit_callbacks)
    assert "right away" in Client().get("/").content.decode()

    settings.ANONYMOUS_PAGE_CACHE_SECONDS = WINDOW
    assert Client().get("/c/nobody-here/").status_code == 404
    community_make(owner=owner, name="Nobody here")
    assert Client().get("/c/nobody-here/").status_code == 200


def test_with_redis_down_signed_out_pages_render_from_the_database(
    page_cache, world, settings, django_capture_on_commit_callbacks
):
    owner, community = world
    Client().get("/")
    cache_redis_stop(settings)
    post_later(owner, community, "while redis is down", django_capture_on_commit_callbacks)
    page = Client().get("/")
    assert page.status_code == 200 and "while redis is down" in page.content.decode()
