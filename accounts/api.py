"""REST endpoints for accounts: register and obtain a token."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.services import NewUser, token_for, user_register
from core.api_docs import ERROR_RESPONSES


class RegisterInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, write_only=True)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150, default="")
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150, default="")
    bio = serializers.CharField(required=False, allow_blank=True, max_length=280, default="")


class RegisterOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    token = serializers.CharField()


class TokenInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, write_only=True)


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()


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
        tags=["auth"],
    )
    def post(self, request):
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        password = fields.pop("password")
        user = user_register(new_user=NewUser(**fields), password=password)
        body = {"id": user.pk, "username": user.username, "token": token_for(user=user)}
        return Response(RegisterOutput(body).data, status=status.HTTP_201_CREATED)


class TokenApi(AuthThrottled):
    @extend_schema(
        request=TokenInput,
        responses={200: TokenOutput, 400: OpenApiResponse(description="Wrong credentials")},
        summary="Exchange a username and password for the account's API token",
        tags=["auth"],
    )
    def post(self, request):
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request=request, **data.validated_data)
        if user is None:
            raise serializers.ValidationError(
                {"non_field_errors": ["Unable to log in with these credentials."]}
            )
        return Response({"token": token_for(user=user)})
