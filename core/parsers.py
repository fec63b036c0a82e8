"""Request body parsers of the REST API (REST_FRAMEWORK DEFAULT_PARSER_CLASSES). A module of
its own: DRF imports it while it builds APIView, so it must not import DRF's views."""

from __future__ import annotations

import io
import re

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether arrays and objects in `body` nest deeper than `limit` (strings skipped). Run
    before json.loads, whose C parser recurses once per level and fails past Python's limit."""
    depth = 0
    for token in _JSON_TOKENS.finditer(body):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif bracket in (b"]", b"}"):
            depth -= 1
    return False


class DepthLimitedJSONParser(JSONParser):
    """DRF's JSON parser, refusing (400) bodies nested deeper than API_JSON_MAX_DEPTH."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read() if stream is not None else b""
        if json_depth_exceeds(body, settings.API_JSON_MAX_DEPTH):
            raise exceptions.ParseError(
                f"JSON parse error - nested deeper than {settings.API_JSON_MAX_DEPTH} levels."
            )
        return super().parse(io.BytesIO(body), media_type, parser_context)
