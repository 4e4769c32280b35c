"""Who must do what to sign in, and who may manage whom.

SECURITY: a second factor is mandatory for anyone who works in an organization or runs the platform.
"""

from __future__ import annotations

from phb.accounts.models import Membership, User
from phb.kernel.context import Ctx


def is_staff_user(user: User) -> bool:
    """Works at an organization (any active membership) or operates the platform."""
    if user.is_platform_operator or user.is_superuser:
        return True
    ctx = Ctx.system(reason="decide whether the user must use a second factor")
    return Membership.objects.for_user(ctx, user_id=user.id).filter(is_active=True).exists()


def requires_second_factor(user: User) -> bool:
    return is_staff_user(user)


def may_use_email_codes(user: User) -> bool:
    """Email one-time codes are a fallback for patients only; staff use an authenticator or backup codes."""
    return not is_staff_user(user)
