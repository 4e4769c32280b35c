"""Writes of accounts: users and their memberships at organizations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from phb.accounts.models import Membership, User, validate_roles
from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, ValidationFailed


def user_create(*, ctx: Ctx, email: str, password: str, full_name: str, **fields: Any) -> User:
    """Create a user with a validated password. Raises ValidationFailed, Conflict (email taken)."""
    email = User.objects.normalize_email(email).strip().lower()
    candidate = User(email=email, full_name=full_name, **fields)
    try:
        candidate.full_clean(exclude=["password"], validate_unique=False)
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise ValidationFailed("; ".join(exc.messages)) from exc
    with transaction.atomic():
        if User.objects.filter(email=email).exists():
            raise Conflict("a user with this email already exists")
        return User.objects.create_user(email, password, full_name=full_name, **fields)


def membership_create(*, ctx: Ctx, user: User, roles: Sequence[str], department_id: Any = None) -> Membership:
    """Make `user` a member of `ctx`'s organization with `roles`."""
    if not ctx.has_perm("accounts.membership.manage"):
        raise Forbidden("managing staff needs the hospital administrator role")
    try:
        validate_roles(list(roles))
    except ValidationError as exc:
        raise ValidationFailed("; ".join(exc.messages)) from exc
    with transaction.atomic():
        if Membership.objects.for_tenant(ctx).filter(user=user).exists():
            raise Conflict("this user is already a member of the organization")
        return Membership.objects.create(
            organization_id=ctx.organization_id, user=user, roles=list(roles), department_id=department_id
        )
