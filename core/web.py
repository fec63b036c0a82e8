"""Small helpers shared by the page views of every app: going back where a form came from,
showing a service's errors, and paging a list without counting all of it."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Back to the page the form was on (`next`), if it is on this site."""
    target = request.POST.get("next") or request.GET.get("next")
    if not target or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = fallback
    return HttpResponseRedirect(target)


def message_errors(request: HttpRequest, error: ValidationError) -> None:
    for text in error.messages:
        messages.error(request, text)


PAGE_SIZE = 20
COUNT_CAP = 10_000


def count_capped(items: QuerySet) -> int:
    """COUNT(*) of at most COUNT_CAP rows."""
    return items.order_by()[:COUNT_CAP].count()


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows: a feed over a million posts would otherwise run a full
    COUNT(*) on every page view. Past the cap the pager shows the first COUNT_CAP items' pages.
    Besides a QuerySet it takes any sliceable object with a `count()` (a cached feed)."""

    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet):
            return count_capped(self.object_list)
        return min(self.object_list.count(), COUNT_CAP)


def page_of(items: QuerySet | Any, number: str | int | None, per_page: int = PAGE_SIZE) -> Page:
    """A page of `items`; out-of-range or garbage page numbers give the nearest page."""
    return CappedCountPaginator(items, per_page).get_page(number)
