"""Whole pages for signed-out visitors, kept in Redis for ANONYMOUS_PAGE_CACHE_SECONDS.

A feed page looks the same to every signed-out visitor: no CSRF token, no liked hearts, no
membership buttons. Hacker News and Reddit serve such visitors from a short-lived page
cache, and so does this: the first signed-out request for a path renders the page as usual
(from the cached listings and cards, or the database) and stores the HTML; the next ones
within the window get those bytes without touching a listing, a card or the database.

What it costs: a signed-out visitor may see a page up to that many seconds old (a new like
count, a new post, "3 minutes ago"). Signed-in people never get a cached page. Nothing is
stored or served when a flash message is waiting for the visitor, for a non-200 answer or
one that sets a cookie; 0 seconds turns the cache off. Without Redis the view renders as
usual (`redis_call` gives None).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import get_language

from core.cache import cache_key, redis_call

View = Callable[..., HttpResponse]


def _cacheable_request(request: HttpRequest) -> bool:
    if settings.ANONYMOUS_PAGE_CACHE_SECONDS <= 0 or request.method != "GET":
        return False
    if request.user.is_authenticated:
        return False
    waiting = getattr(request, "_messages", None)
    return waiting is None or len(waiting) == 0


def _page_key(client, request: HttpRequest) -> str:
    return cache_key(client, "anonpage", get_language(), request.get_full_path())


def anonymous_page_cache(view: View) -> View:
    """Serve `view`'s page to signed-out visitors from the short-lived page cache."""

    @wraps(view)
    def cached_view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # The key (its cache generation) is taken before rendering, so a page rendered while
        # the generation moves on is stored under the old one, which nobody reads again.
        key = _cacheable_request(request) and redis_call(lambda c: _page_key(c, request))
        if not key:
            return view(request, *args, **kwargs)
        body = redis_call(lambda client: client.get(key))
        if body is not None:
            return HttpResponse(body)
        response = view(request, *args, **kwargs)
        if response.status_code == 200 and not response.streaming and not response.cookies:
            content = response.content
            ttl = settings.ANONYMOUS_PAGE_CACHE_SECONDS
            redis_call(lambda client: client.set(key, content, ex=ttl))
        return response

    return cached_view
