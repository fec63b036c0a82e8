"""API authentication: DRF's `Authorization: Token <key>`, refused once the token is older
than API_TOKEN_TTL_HOURS (accounts.services.token_is_expired)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from accounts.services import token_is_expired


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str):
        user, token = super().authenticate_credentials(key)
        if token_is_expired(token):
            raise exceptions.AuthenticationFailed(
                "Token has expired: ask POST /api/v1/auth/token/ for a new one."
            )
        return user, token
