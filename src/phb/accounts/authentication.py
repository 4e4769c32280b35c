"""API authentication with JWT: tokens are bound to an API session that the user can revoke, and carry
whether the second factor was verified (staff cannot get a token without it)."""

from __future__ import annotations

from typing import Any

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from phb.accounts.models import UserSession


class JwtAuthentication(JWTAuthentication):
    def get_user(self, validated_token: Any) -> Any:
        user = super().get_user(validated_token)
        sid = validated_token.get("sid")
        # SECURITY: a revoked session (signed out elsewhere, password changed) ends its access tokens too.
        if not sid or not UserSession.objects.filter(id=sid, user=user, revoked_at__isnull=True).exists():
            raise AuthenticationFailed("This session has ended.", code="session_revoked")
        otp_verified = bool(validated_token.get("otp"))
        user.token_organization_id = validated_token.get("org")
        user.is_verified = lambda: otp_verified  # as django-otp's middleware does for browser sessions
        return user
