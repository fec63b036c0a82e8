"""Request-level guards that apply before any view runs."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


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
