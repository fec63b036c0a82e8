"""Shared OpenAPI descriptions of the error shapes every endpoint can answer with."""

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

DETAIL = inline_serializer("ErrorDetail", fields={"detail": serializers.CharField()})
FIELD_ERRORS = inline_serializer(
    "FieldErrors",
    fields={
        "field_name": serializers.ListField(
            child=serializers.CharField(), help_text="Messages for that field."
        ),
        "non_field_errors": serializers.ListField(child=serializers.CharField(), required=False),
    },
)

ERROR_RESPONSES = {
    400: OpenApiResponse(FIELD_ERRORS, description="Invalid input: messages per field"),
    401: OpenApiResponse(DETAIL, description="Not authenticated"),
    403: OpenApiResponse(DETAIL, description="Not allowed"),
    404: OpenApiResponse(DETAIL, description="Not found"),
    429: OpenApiResponse(DETAIL, description="Too many requests"),
}
