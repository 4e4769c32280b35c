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
from phb.kernel.crypto import EncryptedTextField
from phb.kernel.models import BaseModel, TenantManager, TenantModel, TenantQuerySet
from phb.kernel.validators import validate_phone


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
    email_verified_at = models.DateTimeField(null=True, blank=True)
    full_name = models.CharField(max_length=200)
    phone = models.CharField(max_length=32, blank=True, validators=[validate_phone])
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


class ConsentKind(models.TextChoices):
    TERMS = "terms", "Terms of service"
    DATA_PROCESSING = "data_processing", "Processing of my health data"
    PRIVACY = "privacy", "Privacy notice (NDPR, GDPR, HIPAA)"


class UserConsent(BaseModel):
    """A consent a person gave (or withdrew), with the version of the text they saw and when."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="consents")
    kind = models.CharField(max_length=30, choices=ConsentKind.choices)
    version = models.CharField(max_length=20)
    given_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "version"], name="consent_once_per_version"),
            models.CheckConstraint(condition=models.Q(kind__in=ConsentKind.values), name="consent_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} v{self.version}"


class UserSession(BaseModel):
    """A signed-in browser or API client, listed on the user's sessions page, revocable."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=64, unique=True, null=True, blank=True)
    kind = models.CharField(max_length=10, default="web")  # web | api
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    last_seen_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"], name="session_user_active")]

    def __str__(self) -> str:
        return f"{self.kind} session of {self.user_id}"


class ReviewStatus(models.TextChoices):
    PENDING = "pending", "Awaiting review"
    JUSTIFIED = "justified", "Justified"
    NOT_JUSTIFIED = "not_justified", "Not justified"


class BreakGlassAccess(TenantModel):
    """Emergency access to a patient outside one's care relationships: reasoned, time-limited, reviewed."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    patient_id = models.UUIDField()
    reason = EncryptedTextField()
    expires_at = models.DateTimeField()
    review_status = models.CharField(max_length=15, choices=ReviewStatus.choices, default=ReviewStatus.PENDING)
    reviewed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = EncryptedTextField(blank=True)

    class Meta:
        verbose_name_plural = "break-the-glass accesses"
        indexes = [
            models.Index(fields=["organization", "review_status", "created_at"], name="break_glass_review_queue"),
            models.Index(fields=["organization", "user", "patient_id", "expires_at"], name="break_glass_active"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(review_status__in=ReviewStatus.values), name="break_glass_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"break-glass {self.user_id} -> {self.patient_id}"


class AnomalyKind(models.TextChoices):
    UNUSUAL_VOLUME = "unusual_volume", "Opened far more patient records than usual"
    AFTER_HOURS = "after_hours", "Opened patient records outside working hours"
    BREAK_GLASS_UNREVIEWED = "break_glass_unreviewed", "Emergency access not reviewed within a day"
    SAME_FAMILY_NAME = "same_family_name", "Opened the record of a patient sharing their family name"


class AnomalyFlag(TenantModel):
    """A daily signal for the privacy officer to look at; not a verdict."""

    kind = models.CharField(max_length=30, choices=AnomalyKind.choices)
    day = models.DateField()
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    detail = models.JSONField(default=dict, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "kind", "day", "user"], name="anomaly_once_a_day"),
            models.CheckConstraint(condition=models.Q(kind__in=AnomalyKind.values), name="anomaly_kind_valid"),
        ]
        indexes = [models.Index(fields=["organization", "day"], name="anomaly_org_day")]

    def __str__(self) -> str:
        return f"{self.kind} {self.user_id} {self.day}"


class ApiClient(TenantModel):
    """A system that reads an organization's data on its own (a laboratory, a registry, a Bulk Data
    consumer) with the OAuth2 client-credentials grant. Its secret is shown once and kept only as a
    hash; revoking it ends its tokens at their next use."""

    name = models.CharField(max_length=100)
    # 128 random bits: unique across organizations by construction; the constraint leads with the tenant.
    client_id = models.CharField(max_length=40, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Who a record written by this client names as its author (an inactive user without membership).
    service_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "client_id"], name="api_client_id_unique"),
        ]
        # The token endpoint finds a client by its id before it knows the organization.
        indexes = [models.Index(fields=["client_id"], name="api_client_client_id")]

    def __str__(self) -> str:
        return f"API client {self.client_id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
