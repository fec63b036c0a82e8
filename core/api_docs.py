"""Shared OpenAPI descriptions of the error shapes every endpoint can answer with."""

from drf_spectacular import openapi
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
    409: OpenApiResponse(BAD_REQUEST, description="A name (or slug) that is already taken"),
    413: OpenApiResponse(DETAIL, description="Request body too large"),
    415: OpenApiResponse(DETAIL, description="Body not readable as its declared media type"),
    429: OpenApiResponse(DETAIL, description="Too many requests"),
    503: OpenApiResponse(DETAIL, description="Briefly unavailable (database); see Retry-After"),
}
LOCKED_OUT = OpenApiResponse(
    DETAIL,
    description="Too many requests, or too many failed logins for this username or from this "
    "address: locked out for a while (see Retry-After)",
)


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, with the shared errors on every operation: any request can
    be refused as unreadable (400), carry a bad or expired token (401), be too large (413) or
    of a type the operation does not read (415), be throttled (429), or meet a database
    outage (503). An operation's own description of a code wins."""

    def _get_response_bodies(self, direction: str = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        for code, response in ERROR_RESPONSES.items():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    response, str(code), direction=direction
                )
        return responses
