"""REST endpoints for accounts: register, obtain a token, revoke it (log out)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.services import (
    BIO_MAX,
    NewUser,
    password_min_length,
    token_expires_at,
    token_issue,
    tokens_revoke,
    user_register,
)
from accounts.usernames import USERNAME_MAX, USERNAME_PATTERN, USERNAME_RULE
from core.api import BodyInput
from core.api_docs import ERROR_RESPONSES, LOCKED_OUT

TOKEN_LIFETIME = (
    f"Send it as `Authorization: Token <token>`. It expires {settings.API_TOKEN_TTL_HOURS} "
    "hours after it was issued (`expires_at`; then ask this endpoint again) and is revoked by "
    "POST /api/v1/auth/logout/ or by an admin."
)


class RegisterInput(BodyInput):
    # Text as sent (no trimming): the limits in the schema are the ones checked.
    username = serializers.RegexField(
        USERNAME_PATTERN,
        max_length=USERNAME_MAX,
        trim_whitespace=False,
        help_text=f"{USERNAME_RULE} Not one that looks like a taken name (Unicode confusables).",
        error_messages={"invalid": f"Choose a username of {USERNAME_RULE}"},
    )
    password = serializers.CharField(
        min_length=password_min_length(),
        max_length=128,
        write_only=True,
        trim_whitespace=False,
        help_text="Checked by the configured password validators: not too common, not all "
        "digits, not like the username.",
    )
    email = serializers.EmailField(
        required=False, allow_blank=True, default="", trim_whitespace=False
    )
    first_name = serializers.CharField(
        required=False, allow_blank=True, max_length=150, default="", trim_whitespace=False
    )
    last_name = serializers.CharField(
        required=False, allow_blank=True, max_length=150, default="", trim_whitespace=False
    )
    bio = serializers.CharField(
        required=False, allow_blank=True, max_length=BIO_MAX, default="", trim_whitespace=False
    )


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class RegisterOutput(TokenOutput):
    id = serializers.IntegerField()
    username = serializers.CharField()


class TokenInput(BodyInput):
    username = serializers.CharField(trim_whitespace=False, max_length=USERNAME_MAX)
    password = serializers.CharField(trim_whitespace=False, max_length=128, write_only=True)


def _token_body(user) -> dict:
    token = token_issue(user=user)
    return {"token": token.key, "expires_at": token_expires_at(token)}


class AuthThrottled(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


class RegisterApi(AuthThrottled):
    @extend_schema(
        request=RegisterInput,
        responses={201: RegisterOutput, **ERROR_RESPONSES},
        summary="Create an account and get its API token",
        description=TOKEN_LIFETIME,
        tags=["auth"],
    )
    def post(self, request):
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        password = fields.pop("password")
        user = user_register(new_user=NewUser(**fields), password=password)
        body = {"id": user.pk, "username": user.username, **_token_body(user)}
        return Response(RegisterOutput(body).data, status=status.HTTP_201_CREATED)


class TokenApi(AuthThrottled):
    @extend_schema(
        request=TokenInput,
        responses={
            200: TokenOutput,
            **ERROR_RESPONSES,
            400: OpenApiResponse(ERROR_RESPONSES[400].response, description="Wrong credentials"),
            429: LOCKED_OUT,
        },
        summary="Exchange a username and password for the account's API token",
        description=TOKEN_LIFETIME,
        tags=["auth"],
    )
    def post(self, request):
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        # The Django request: a lockout (django-axes) is flagged on it and answered by
        # AxesMiddleware with accounts.views.login_locked_out.
        user = authenticate(request=request._request, **data.validated_data)
        if user is None:
            raise serializers.ValidationError(
                {"non_field_errors": ["Unable to log in with these credentials."]}
            )
        return Response(TokenOutput(_token_body(user)).data)


class LogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={204: None, **ERROR_RESPONSES},
        summary="Log out of the API: revoke the account's token (every client using it)",
        tags=["auth"],
    )
    def post(self, request):
        tokens_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
