"""Kernel models: the base every model inherits, the tenant (`Organization`), tenant-owned rows, outbox.

A tenant-owned model's default manager fails closed: `Model.objects.filter(...)` raises `UnscopedQuery`
when evaluated. Queries start from `Model.objects.for_tenant(ctx)`; platform jobs use
`Model.objects.for_system(ctx)` with `Ctx.system(reason=...)`.
"""

from __future__ import annotations

import contextlib
import contextvars
import secrets
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Self
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, router

from phb.kernel import tenancy
from phb.kernel.context import Ctx
from phb.kernel.ids import uuid7
from phb.kernel.tenancy import TenantRequired, UnscopedQuery


class BaseModel(models.Model):
    """Time-ordered UUID primary key and creation/update times, on every PHB model."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


# --------------------------------------------------------------------------------------------------
# Fail-closed querysets
# --------------------------------------------------------------------------------------------------

_ALL = object()  # marker: a system scope over every tenant
# While a row validates itself (Django's unique and constraint checks, as in forms), the scope its
# model names for that (its own organization, for a tenant row) applies to those queries.
_validating_for: contextvars.ContextVar[object] = contextvars.ContextVar("_validating_for", default=None)


class ScopedQuerySet(models.QuerySet):
    """A queryset that refuses to touch the database until it has been given a scope.

    SECURITY: this is what makes a forgotten tenant filter an exception instead of a data leak.
    """

    # Whether the model's table has a row-level security policy the session must be bound for.
    row_level_security = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._scope: object = None

    def _clone(self) -> Self:
        clone = super()._clone()
        clone._scope = self._scope
        return clone

    def _scoped(self, scope: object) -> Self:
        clone = self._chain()
        clone._scope = scope
        return clone

    # -- scopes ------------------------------------------------------------------------------------
    def _across_tenants(self) -> Self:
        """For a subclass's named scope whose own filter already limits the rows (one user's
        memberships, the organizations a user belongs to)."""
        return self._scoped(_ALL)

    def for_system(self, ctx: Ctx) -> Self:
        """Every tenant's rows, for work done by no user. Requires `Ctx.system(reason=...)`."""
        if not ctx.is_system:
            raise UnscopedQuery(f"{self.model.__name__}.objects.for_system() needs Ctx.system(reason=...)")
        return self._scoped(_ALL)

    # -- enforcement -------------------------------------------------------------------------------
    def _binding(self) -> tuple[uuid.UUID | None, bool]:
        """(organization_id, all_tenants) the database session is bound to while this query runs."""
        scope = self._scope if self._scope is not None else _validating_for.get()
        if scope is _ALL:
            return None, True
        if isinstance(scope, uuid.UUID):
            return scope, False
        raise UnscopedQuery(
            f"{self.model.__name__} is tenant-owned: query it with {self.model.__name__}.objects.for_tenant(ctx)"
        )

    def _bound(self) -> Any:
        organization_id, all_tenants = self._binding()
        if not self.row_level_security:
            return contextlib.nullcontext()
        return tenancy.bound(organization_id=organization_id, all_tenants=all_tenants, using=self.db)

    def _fetch_all(self) -> None:
        if self._result_cache is None:
            with self._bound():
                super()._fetch_all()

    def iterator(self, chunk_size: int | None = None) -> Iterator[Any]:
        with self._bound():
            yield from super().iterator(chunk_size=chunk_size)

    def count(self) -> int:
        if self._result_cache is not None:
            return len(self._result_cache)
        with self._bound():
            return super().count()

    def exists(self) -> bool:
        if self._result_cache is not None:
            return bool(self._result_cache)
        with self._bound():
            return super().exists()

    def contains(self, obj: models.Model) -> bool:
        with self._bound():
            return super().contains(obj)

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        with self._bound():
            return super().aggregate(*args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        with self._bound():
            return super().update(**kwargs)

    update.alters_data = True  # type: ignore[attr-defined]

    def _update(self, values: Any) -> Any:
        with self._bound():
            return super()._update(values)

    def delete(self) -> tuple[int, dict[str, int]]:
        with self._bound():
            return super().delete()

    delete.alters_data = True  # type: ignore[attr-defined]

    def _raw_delete(self, using: str) -> int:
        with self._bound():
            return super()._raw_delete(using)

    def explain(self, *, format: str | None = None, **options: Any) -> str:
        with self._bound():
            return super().explain(format=format, **options)

    def bulk_create(self, objs: Iterable[models.Model], *args: Any, **kwargs: Any) -> list[Any]:
        objs = list(objs)
        organization_id, all_tenants = self._binding()
        if not all_tenants and any(getattr(o, "organization_id", organization_id) != organization_id for o in objs):
            raise UnscopedQuery("bulk_create() of rows belonging to another organization")
        with self._bound():
            return super().bulk_create(objs, *args, **kwargs)

    def resolve_expression(self, *args: Any, **kwargs: Any) -> Any:
        # Used as a subquery: it must have been scoped like any other query.
        self._binding()
        return super().resolve_expression(*args, **kwargs)

    def _combinator_query(self, combinator: str, *other_qs: Any, all: bool = False) -> Any:
        for other in other_qs:
            if isinstance(other, ScopedQuerySet):
                other._binding()
        return super()._combinator_query(combinator, *other_qs, all=all)


class TenantQuerySet(ScopedQuerySet):
    def for_tenant(self, ctx: Ctx) -> Self:
        """The rows of `ctx`'s organization, and only those."""
        if ctx.organization_id is None:
            raise TenantRequired(f"{self.model.__name__}.objects.for_tenant() needs a context with an organization")
        return self.filter(organization_id=ctx.organization_id)._scoped(ctx.organization_id)


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):  # type: ignore[misc]
    pass


class SelfValidatingScope(models.Model):
    """Lets Django's own unique/constraint validation query a fail-closed model, within the scope
    `_validation_scope()` names."""

    class Meta:
        abstract = True

    def _validation_scope(self) -> object:
        raise NotImplementedError

    def validate_unique(self, exclude: Any = None) -> None:
        token = _validating_for.set(self._validation_scope())
        try:
            super().validate_unique(exclude=exclude)
        finally:
            _validating_for.reset(token)

    def validate_constraints(self, exclude: Any = None) -> None:
        token = _validating_for.set(self._validation_scope())
        try:
            super().validate_constraints(exclude=exclude)
        finally:
            _validating_for.reset(token)


class TenantModel(SelfValidatingScope, BaseModel):
    """A row owned by one organization. Its table gets a row-level security policy (kernel.db)."""

    organization = models.ForeignKey("kernel.Organization", on_delete=models.PROTECT, related_name="+", editable=False)

    objects = TenantManager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with tenancy.bound(organization_id=self.organization_id, using=using):
            super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with tenancy.bound(organization_id=self.organization_id, using=using):
            return super().delete(*args, **kwargs)

    def _validation_scope(self) -> object:
        return self.organization_id


# --------------------------------------------------------------------------------------------------
# The tenant
# --------------------------------------------------------------------------------------------------


class OrganizationQuerySet(ScopedQuerySet):
    # The tenant registry holds no health data; its scopes guard against listing every hospital by
    # accident, and there is no per-tenant policy on its table.
    row_level_security = False

    def for_tenant(self, ctx: Ctx) -> Self:
        """The organization `ctx` acts for."""
        if ctx.organization_id is None:
            raise TenantRequired("Organization.objects.for_tenant() needs a context with an organization")
        return self.filter(id=ctx.organization_id)._scoped(ctx.organization_id)

    def for_member(self, ctx: Ctx, *, organization_ids: Iterable[uuid.UUID]) -> Self:
        """The organizations whose ids the caller has established `ctx`'s actor belongs to."""
        return self.filter(id__in=list(organization_ids))._across_tenants()

    def accepting_patients(self) -> Self:
        """The public directory: active hospitals and clinics, which patients may ask to register with."""
        return self.filter(is_active=True, kind__in=["hospital", "clinic"])._across_tenants()

    def for_platform(self, ctx: Ctx) -> Self:
        """Every organization: for platform operators and system work."""
        if not ctx.has_perm("platform.organizations.view"):
            raise UnscopedQuery("Organization.objects.for_platform() needs a platform operator or system context")
        return self._across_tenants()


class OrganizationType(models.TextChoices):
    HOSPITAL = "hospital", "Hospital"
    CLINIC = "clinic", "Clinic"
    LABORATORY = "laboratory", "Laboratory"
    PHARMACY = "pharmacy", "Pharmacy"
    NETWORK = "network", "Network"


REGISTRATION_PREFIX = {
    OrganizationType.HOSPITAL: "HSP",
    OrganizationType.CLINIC: "CLN",
    OrganizationType.LABORATORY: "LAB",
    OrganizationType.PHARMACY: "PHM",
    OrganizationType.NETWORK: "NET",
}
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_registration_number(kind: str) -> str:
    """`HSP-7K3M9Q2D`: a type prefix and 8 random Crockford base-32 characters (no I, L, O, U)."""
    return f"{REGISTRATION_PREFIX[OrganizationType(kind)]}-" + "".join(secrets.choice(_CROCKFORD) for _ in range(8))


def validate_timezone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone")


def _default_timezone() -> str:
    return settings.DEFAULT_ORGANIZATION_TIMEZONE


def _default_currency() -> str:
    return settings.DEFAULT_ORGANIZATION_CURRENCY


class Organization(SelfValidatingScope, BaseModel):
    """A tenant: a hospital, clinic, laboratory, pharmacy, or a network of them."""

    name = models.CharField(max_length=200)
    kind = models.CharField("type", max_length=20, choices=OrganizationType.choices)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The network this organization belongs to.",
    )
    registration_number = models.CharField(max_length=20, unique=True, editable=False)
    code = models.SlugField(
        max_length=40,
        unique=True,
        help_text="Short code staff type at sign-in (the hospital code), e.g. 'unity-teaching'.",
    )
    address_line = models.CharField(max_length=300, blank=True)
    country = models.CharField(max_length=2, default="NG", help_text="ISO 3166-1 alpha-2")
    state = models.CharField(max_length=100, blank=True)
    city = models.CharField(max_length=100, blank=True)
    timezone = models.CharField(max_length=64, default=_default_timezone, validators=[validate_timezone])
    currency = models.CharField(max_length=3, default=_default_currency, help_text="ISO 4217")
    is_active = models.BooleanField(default=True)

    objects = models.Manager.from_queryset(OrganizationQuerySet)()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=OrganizationType.values), name="organization_kind_valid"
            ),
            models.CheckConstraint(condition=~models.Q(parent=models.F("id")), name="organization_not_own_parent"),
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="organization_currency_iso"),
            models.CheckConstraint(condition=models.Q(country__regex=r"^[A-Z]{2}$"), name="organization_country_iso"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.registration_number:
            self.registration_number = new_registration_number(self.kind)
        super().save(*args, **kwargs)

    def _validation_scope(self) -> object:
        return _ALL  # codes and registration numbers are unique across the platform


# --------------------------------------------------------------------------------------------------
# Transactional outbox
# --------------------------------------------------------------------------------------------------


class OutboxEvent(BaseModel):
    """An event written in the same transaction as the change it describes."""

    name = models.CharField(max_length=120)
    payload = models.JSONField()
    organization_id = models.UUIDField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["name", "created_at"], name="outbox_event_name_created")]

    def __str__(self) -> str:
        return f"{self.name} {self.id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    PARKED = "parked", "Parked"


class OutboxDelivery(BaseModel):
    """One event to one subscribed handler: retried with backoff, parked after too many failures."""

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    handler = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "outbox deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "handler"], name="outbox_delivery_unique_handler"),
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values), name="outbox_delivery_status_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_delivery_due",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.handler} <- {self.event_id} ({self.status})"


# --------------------------------------------------------------------------------------------------
# Audit trail (kernel.audit writes and verifies it)
# --------------------------------------------------------------------------------------------------


class AuditQuerySet(ScopedQuerySet):
    row_level_security = False  # append-only, never exposed unscoped; readers go through kernel.audit

    def for_tenant(self, ctx: Ctx) -> Self:
        if ctx.organization_id is None:
            raise TenantRequired("audit queries need a context with an organization")
        return self.filter(organization_id=ctx.organization_id)._across_tenants()

    def for_patient(self, ctx: Ctx, *, patient_id: uuid.UUID) -> Self:
        """Every organization's events about one patient: what the patient may see of their own record."""
        return self.filter(patient_id=patient_id)._across_tenants()


class AuditEvent(models.Model):
    """Who did what to which record, when, from where, why, and with what outcome. Append-only."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    occurred_at = models.DateTimeField()
    actor_id = models.UUIDField(null=True, blank=True)
    actor_kind = models.CharField(max_length=10)
    roles = models.CharField(max_length=300, blank=True)
    organization_id = models.UUIDField(null=True, blank=True)
    patient_id = models.UUIDField(null=True, blank=True)
    action = models.CharField(max_length=100)
    resource_type = models.CharField(max_length=60, blank=True)
    resource_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=10)
    purpose_of_use = models.CharField(max_length=20)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    reason = models.TextField(blank=True, help_text="The declared reason, for break-the-glass and system work.")
    detail = models.JSONField(default=dict, blank=True)

    objects = models.Manager.from_queryset(AuditQuerySet)()

    class Meta:
        indexes = [
            models.Index(fields=["patient_id", "occurred_at"], name="audit_patient_time"),
            models.Index(fields=["actor_id", "occurred_at"], name="audit_actor_time"),
            models.Index(fields=["organization_id", "occurred_at"], name="audit_org_time"),
            models.Index(fields=["occurred_at", "id"], name="audit_chain_order"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(outcome__in=["success", "denied", "error", "failure"]), name="audit_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.outcome} at {self.occurred_at}"


class AuditChainLink(models.Model):
    """The hash chain over audit events, written by the sealing task: one link per event, in order."""

    position = models.BigIntegerField(primary_key=True)
    event_id = models.UUIDField(unique=True)
    event_hash = models.CharField(max_length=64)
    chain_hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"link {self.position}"
