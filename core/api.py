"""What every part of the REST API v1 shares: error shapes, parsing, pagination, the client's
address.

Service functions raise Django's ValidationError and PermissionDenied; the exception handler
turns them into DRF's 400 (with per-field messages; 409 when every message has the code
"conflict": a name already taken) and 403, so a rule lives only in the service and the API
never restates it. A database outage becomes a clean 503. Input that does
not parse (a body nested too deep, a forged cursor, a `limit` that is no number) is a 400."""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.db.models import Model
from django.http import HttpRequest, JsonResponse, QueryDict
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import page_not_found, server_error
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import Cursor, CursorPagination, LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import exception_handler as drf_exception_handler

MAX_PAGE_SIZE = 100
MAX_OFFSET = 1_000_000


def client_address(request: HttpRequest) -> str | None:
    """The client's address: the socket's, or with NUM_PROXIES set that many entries from the
    right of X-Forwarded-For (DRF's rule). Throttles and login lockouts both use it."""
    return BaseThrottle().get_ident(request)


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable; please retry shortly."
    default_code = "service_unavailable"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflicts with an existing resource."
    default_code = "conflict"


def _only_conflicts(error: DjangoValidationError) -> bool:
    """Every message of the error says a value is taken (code "conflict"): a 409."""
    if hasattr(error, "error_dict"):
        items = [item for items in error.error_dict.values() for item in items]
    else:
        items = error.error_list
    return all(item.code == "conflict" for item in items)


def django_validation_error_as_drf(error: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError(error.message_dict)
    return exceptions.ValidationError({"non_field_errors": error.messages})


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        drf_error = django_validation_error_as_drf(exc)
        exc = Conflict(drf_error.detail) if _only_conflicts(exc) else drf_error
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, OperationalError | InterfaceError) or (type(exc) is DatabaseError):
        exc = ServiceUnavailable()
    return drf_exception_handler(exc, context)


def _json_type_error(field: serializers.Field, value: Any) -> str | None:
    if value is None:
        return None  # the field's own allow_null decides
    if isinstance(field, serializers.CharField | serializers.ChoiceField):
        return None if isinstance(value, str) else "Not a valid string."
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be a boolean."
    if isinstance(field, serializers.IntegerField):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "A valid integer is required."
    if isinstance(field, serializers.FloatField):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "A valid number is required."
    return None


class BodyInput(serializers.Serializer):
    """A request body. Sent as JSON, each value must have the type the schema gives it: DRF
    alone would take 5 for "5" and "5" for 5. (A form sends text only, converted as usual.)"""

    def to_internal_value(self, data):
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            wrong = {
                name: [message]
                for name, field in self.fields.items()
                if name in data and (message := _json_type_error(field, data[name]))
            }
            if wrong:
                raise exceptions.ValidationError(wrong)
        return super().to_internal_value(data)


class QueryParams(serializers.Serializer):
    """Query parameters. One given empty (`?kind=`) is refused as the schema says, where DRF
    would take it for a parameter not given."""

    def to_internal_value(self, data):
        blank = {
            name: [serializers.CharField.default_error_messages["blank"]]
            for name, field in self.fields.items()
            if data.get(name) == "" and not getattr(field, "allow_blank", False)
        }
        if blank:
            raise exceptions.ValidationError(blank)
        return super().to_internal_value(data)


# --- pagination -----------------------------------------------------------------------------


def _query_int(request, name: str, *, default: int, minimum: int, maximum: int) -> int:
    """A whole-number query parameter within bounds; anything else is a 400 naming it."""
    field = serializers.IntegerField(min_value=minimum, max_value=maximum)
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return field.run_validation(raw)
    except exceptions.ValidationError as error:
        raise exceptions.ValidationError({name: error.detail}) from error


def _int_parameter(name: str, description: str, minimum: int, maximum: int) -> dict:
    return {
        "name": name,
        "required": False,
        "in": "query",
        "description": description,
        "schema": {"type": "integer", "minimum": minimum, "maximum": maximum},
    }


class StandardPagination(LimitOffsetPagination):
    """`limit` 1..MAX_PAGE_SIZE and `offset` 0..MAX_OFFSET; out of range or not a number: 400."""

    default_limit = 20
    max_limit = MAX_PAGE_SIZE

    def get_limit(self, request) -> int:
        return _query_int(
            request, self.limit_query_param, default=self.default_limit, minimum=1,
            maximum=self.max_limit,
        )  # fmt: skip

    def get_offset(self, request) -> int:
        return _query_int(
            request, self.offset_query_param, default=0, minimum=0, maximum=MAX_OFFSET
        )

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            _int_parameter(self.limit_query_param, "Results per page.", 1, self.max_limit),
            _int_parameter(self.offset_query_param, "Results to skip.", 0, MAX_OFFSET),
        ]


class FeedCursorPagination(CursorPagination):
    """Cursor pagination for feeds: stable under inserts, no COUNT(*) over the table.

    The ordering is the queryset's own (the selector ranks by hot, new or top), so the
    cursor encodes the position in whichever ranking the client asked for. Besides a QuerySet
    it pages anything with a QuerySet's `model`, `order_by`, `filter` and slices and an
    `ordering` (the cached feeds of posts/listings.py). A cursor that does not decode, or
    whose position is not a value of the ordering column, is a 400 before either the cache or
    the database sees it."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    invalid_cursor_message = "Invalid cursor: use the `next` or `previous` link as given."

    def get_ordering(self, request, queryset, view) -> tuple[str, ...]:
        ordering = tuple(getattr(queryset, "ordering", None) or queryset.query.order_by)
        ordering = ordering or ("-pk",)
        self._position_field = _model_field(queryset.model, ordering[0].lstrip("-"))
        return ordering

    def get_page_size(self, request) -> int:
        return _query_int(
            request, self.page_size_query_param, default=self.page_size, minimum=1,
            maximum=self.max_page_size,
        )  # fmt: skip

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound as error:
            raise self._invalid() from error
        if cursor is not None and cursor.position is not None:
            self._position_check(cursor.position)
        return cursor

    def get_previous_link(self) -> str | None:
        """From a forward cursor that skips a page or more, the page before is the same
        cursor skipping one page less: exact, however many posts tie. DRF walks back from the
        first post on the page whose position differs from the next one; on a page where all
        of them tie (equal like counts for `top`) it finds none, and its reverse cursor lands
        on an empty page (encode/django-rest-framework#7709)."""
        cursor = self.cursor
        if self.has_previous and cursor and not cursor.reverse and cursor.offset >= self.page_size:
            before = Cursor(
                offset=cursor.offset - self.page_size, reverse=False, position=cursor.position
            )
            return self.encode_cursor(before)
        return super().get_previous_link()

    def _position_check(self, position: str) -> None:
        try:
            value = self._position_field.to_python(position)
        except (DjangoValidationError, ValueError, TypeError, OverflowError) as error:
            raise self._invalid() from error
        if isinstance(value, float) and not math.isfinite(value):
            raise self._invalid()
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise self._invalid()
        if isinstance(value, datetime) and not _utc_datetime(value):
            raise self._invalid()

    def _invalid(self) -> exceptions.ValidationError:
        return exceptions.ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})

    def get_schema_operation_parameters(self, view) -> list[dict]:
        cursor, _page_size = super().get_schema_operation_parameters(view)
        page_size = _int_parameter(
            self.page_size_query_param, "Results per page.", 1, self.max_page_size
        )
        return [cursor, page_size]


def _utc_datetime(value: datetime) -> bool:
    """An aware datetime that UTC can express: what the API's own cursors carry (a naive one,
    or one past year 1..9999 in UTC, would fail in the database's hands)."""
    if timezone.is_naive(value):
        return False
    try:
        value.astimezone(UTC)
    except OverflowError:
        return False
    return True


def _model_field(model: type[Model], name: str):
    return model._meta.pk if name == "pk" else model._meta.get_field(name)


# --- errors outside DRF views ---------------------------------------------------------------


@csrf_exempt
def api_path_not_found(request: HttpRequest) -> JsonResponse:
    """Every path under /api/ that no route matches: a JSON 404 in every mode (Django's own
    404 page, with DEBUG on the technical one, never answers an API client)."""
    return JsonResponse({"detail": "Not found."}, status=404)


def api_not_found(request, exception=None):
    """JSON 404 for API paths (an id or slug that does not match a route), HTML elsewhere."""
    if request.path.startswith("/api/"):
        return api_path_not_found(request)
    return page_not_found(request, exception)


def api_server_error(request):
    from core.middleware import DATABASE_ERRORS, database_unavailable_response

    if isinstance(sys.exc_info()[1], DATABASE_ERRORS):
        return database_unavailable_response(request)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error."}, status=500)
    return server_error(request)
