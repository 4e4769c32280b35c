"""People who sign in to PHB, and the organizations they work at."""

from __future__ import annotations

import uuid
from typing import Any, Self

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models

from phb.accounts.roles import staff_role_codes
from phb.kernel.context import Ctx
from phb.kernel.models import BaseModel, TenantManager, TenantModel, TenantQuerySet


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("an email is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(is_staff=True, is_superuser=True, is_platform_operator=True)
        return self.create_user(email, password, **fields)


class Gender(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Prefer not to say"


class User(BaseModel, AbstractBaseUser, PermissionsMixin):
    """Anyone who signs in: patient, clinician, administrator, platform operator. Email is the login."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200)
    phone = models.CharField(max_length=32, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=10, choices=Gender.choices, blank=True)
    country = models.CharField(max_length=2, blank=True)
    state = models.CharField(max_length=100, blank=True)
    city = models.CharField(max_length=100, blank=True)
    preferred_language = models.CharField(max_length=10, default="en")
    secondary_language = models.CharField(max_length=10, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May sign in to the Django admin (platform superusers).")
    is_platform_operator = models.BooleanField(default=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class MembershipQuerySet(TenantQuerySet):
    def for_user(self, ctx: Ctx, *, user_id: uuid.UUID) -> Self:
        """One user's memberships at every organization: what they may switch between."""
        return self.filter(user_id=user_id)._across_tenants()


def validate_roles(value: object) -> None:
    if not isinstance(value, list) or not value or not all(isinstance(r, str) for r in value):
        raise ValidationError("roles must be a non-empty list of role codes")
    unknown = sorted(set(value) - set(staff_role_codes()))
    if unknown:
        raise ValidationError(f"unknown roles: {', '.join(unknown)}")


class Membership(TenantModel):
    """A user working at an organization (optionally in one department) with one or more roles."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey(
        "organizations.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    roles = models.JSONField(default=list, validators=[validate_roles])
    is_active = models.BooleanField(default=True)

    objects = TenantManager.from_queryset(MembershipQuerySet)()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_one_per_user_and_organization"),
        ]
        indexes = [models.Index(fields=["user"], name="membership_user")]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.organization_id}: {', '.join(self.roles)}"
