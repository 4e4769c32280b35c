"""Signed, expiring, single-use links (email verification, staff invitations).

A token signs the user's id and a fingerprint of the state the link is meant to change (the
verification time, the password hash). Once used, the state changes and the same link no longer
matches: it cannot be replayed. No health data is ever put in a link.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core import signing

from phb.accounts.models import User


def _fingerprint(purpose: str, user: User) -> str:
    state = {
        "verify-email": f"{user.email}|{user.email_verified_at}",
        "invitation": f"{user.password}|{user.last_login}",
    }[purpose]
    return hashlib.sha256(state.encode()).hexdigest()[:16]


def make(purpose: str, user: User) -> str:
    return signing.dumps({"u": str(user.id), "f": _fingerprint(purpose, user)}, salt=f"phb.{purpose}", compress=True)


class TokenError(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason  # "expired" | "invalid"
        super().__init__(reason)


def read(purpose: str, token: str, *, max_age: int) -> User:
    """The user a valid token was made for. Raises TokenError("expired" | "invalid")."""
    try:
        data: dict[str, Any] = signing.loads(token, salt=f"phb.{purpose}", max_age=max_age)
    except signing.SignatureExpired as exc:
        raise TokenError("expired") from exc
    except signing.BadSignature as exc:
        raise TokenError("invalid") from exc
    user = User.objects.filter(id=data.get("u"), is_active=True).first()
    if user is None or data.get("f") != _fingerprint(purpose, user):
        raise TokenError("invalid")  # already used, or the account changed since
    return user
