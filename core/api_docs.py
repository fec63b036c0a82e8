"""Shared OpenAPI descriptions of the error shapes every endpoint can answer with."""

from drf_spectacular.utils import OpenApiResponse

DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
FIELD_ERRORS = {
    "type": "object",
    "description": "Messages per input field; `non_field_errors` for the input as a whole.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
BAD_REQUEST = {"anyOf": [FIELD_ERRORS, DETAIL]}

ERROR_RESPONSES = {
    400: OpenApiResponse(BAD_REQUEST, description="Invalid input: messages per field"),
    401: OpenApiResponse(DETAIL, description="Not authenticated"),
    403: OpenApiResponse(DETAIL, description="Not allowed"),
    404: OpenApiResponse(DETAIL, description="Not found"),
    413: OpenApiResponse(DETAIL, description="Upload too large"),
    415: OpenApiResponse(DETAIL, description="Body not readable as its declared media type"),
    429: OpenApiResponse(DETAIL, description="Too many requests"),
    503: OpenApiResponse(DETAIL, description="Briefly unavailable (database); see Retry-After"),
}
