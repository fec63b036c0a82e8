"""Request-level guards that apply before any view runs."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)


class RequestSizeLimitMiddleware:
    """Refuse bodies larger than the largest upload we accept (413), before Django reads them.

    Media rules (10 MB images, 100 MB videos) are checked by content in posts/media.py; this
    only stops a client from streaming gigabytes at the server first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES:
            limit_mb = settings.MAX_REQUEST_BYTES // (1024 * 1024)
            message = f"Request body too large: at most {limit_mb} MB."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain")
        return self.get_response(request)


DATABASE_ERRORS = (OperationalError, InterfaceError)
UNAVAILABLE_MESSAGE = "The site is briefly unavailable. Please try again in a moment."
UNAVAILABLE_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Unavailable</title>"
    f"<h1>503 Service Unavailable</h1><p>{UNAVAILABLE_MESSAGE}</p></html>"
)


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """A clean 503 (JSON on API paths, a plain page elsewhere) with Retry-After."""
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": UNAVAILABLE_MESSAGE}, status=503)
    else:
        response = HttpResponse(UNAVAILABLE_PAGE, status=503)
    response["Retry-After"] = "5"
    return response


class DatabaseUnavailableMiddleware:
    """The database being unreachable (a restart, a failover) is a 503, not a 500 traceback.

    Views' exceptions arrive in `process_exception`; DRF views answer 503 themselves
    (core/api.py). Errors outside a view (a session saved after it) reach handler500,
    which makes the same answer (core.api.api_server_error)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            logger.warning(
                "database unavailable: %s %s: %s", request.method, request.path, exception
            )
            return database_unavailable_response(request)
        return None
