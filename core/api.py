"""What every part of the REST API v1 shares: error shapes, pagination, throttles.

Service functions raise Django's ValidationError and PermissionDenied; the exception handler
turns them into DRF's 400 (with per-field messages) and 403, so a rule lives only in the
service and the API never restates it. A database outage becomes a clean 503."""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import JsonResponse
from django.views.defaults import page_not_found, server_error
from rest_framework import exceptions, status
from rest_framework.pagination import CursorPagination, LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable; please retry shortly."
    default_code = "service_unavailable"


def django_validation_error_as_drf(error: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError(error.message_dict)
    return exceptions.ValidationError({"non_field_errors": error.messages})


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = django_validation_error_as_drf(exc)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, OperationalError | InterfaceError) or (type(exc) is DatabaseError):
        exc = ServiceUnavailable()
    return drf_exception_handler(exc, context)


class StandardPagination(LimitOffsetPagination):
    default_limit = 20
    max_limit = 100


class FeedCursorPagination(CursorPagination):
    """Cursor pagination for feeds: stable under inserts, no COUNT(*) over the table.

    The ordering is the queryset's own (the selector ranks by hot, new or top), so the
    cursor encodes the position in whichever ranking the client asked for. Besides a QuerySet
    it pages anything with a QuerySet's `order_by`, `filter` and slices and an `ordering`
    (the cached feeds of posts/listings.py)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_ordering(self, request, queryset, view) -> tuple[str, ...]:
        ordering = getattr(queryset, "ordering", None) or queryset.query.order_by
        return tuple(ordering) or ("-pk",)


def api_not_found(request, exception=None):
    """JSON 404 for API paths (an id or slug that does not match a route), HTML elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def api_server_error(request):
    from core.middleware import DATABASE_ERRORS, database_unavailable_response

    if isinstance(sys.exc_info()[1], DATABASE_ERRORS):
        return database_unavailable_response(request)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error."}, status=500)
    return server_error(request)
