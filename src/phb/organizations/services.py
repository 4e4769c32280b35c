"""Writes of organizations and departments. Each service is one transaction and validates first."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from phb.kernel.context import Ctx
from phb.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from phb.kernel.models import Organization, OrganizationType
from phb.organizations import events, policies
from phb.organizations.models import Department, DepartmentKind

STANDARD_DEPARTMENTS = [
    DepartmentKind.EMERGENCY,
    DepartmentKind.SURGERY,
    DepartmentKind.PAEDIATRICS,
    DepartmentKind.OBSTETRICS_GYNAECOLOGY,
    DepartmentKind.INTERNAL_MEDICINE,
    DepartmentKind.CARDIOLOGY,
    DepartmentKind.ORTHOPAEDICS,
    DepartmentKind.RADIOLOGY,
    DepartmentKind.LABORATORY,
    DepartmentKind.PHARMACY,
    DepartmentKind.ICU,
    DepartmentKind.OUTPATIENTS,
]


def _validated(obj: Any, *, exclude: list[str] | None = None) -> None:
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise ValidationFailed(
            "The organization has invalid fields.",
            errors=[{"field": f, "message": m, "code": "invalid"} for f, ms in exc.message_dict.items() for m in ms],
        ) from exc


def organization_create(
    *,
    ctx: Ctx,
    name: str,
    kind: str,
    code: str,
    parent_id: uuid.UUID | None = None,
    registration_number: str | None = None,
    **fields: Any,
) -> Organization:
    """Onboard a tenant. Platform operators only. A parent must be a network."""
    from phb.kernel import events as kernel_events

    if not policies.can_create_organization(ctx):
        raise Forbidden("only platform operators create organizations")
    parent = None
    if parent_id is not None:
        parent = Organization.objects.for_platform(ctx).filter(id=parent_id).first()
        if parent is None:
            raise NotFound("no such parent organization")
        if parent.kind != OrganizationType.NETWORK:
            raise ValidationFailed(
                "the parent must be a network",
                errors=[{"field": "parent", "message": "the parent must be a network", "code": "invalid"}],
            )
    organization = Organization(name=name, kind=kind, code=code, parent=parent, **fields)
    if registration_number:
        organization.registration_number = registration_number
    _validated(organization, exclude=["registration_number", "code"])
    try:
        with transaction.atomic():
            if Organization.objects.for_platform(ctx).filter(code=code).exists():
                raise Conflict("an organization with this code already exists")
            _validated(organization, exclude=["registration_number"])
            organization.save()
            kernel_events.publish(ctx, events.OrganizationCreated(organization_id=organization.id, kind=kind))
    except IntegrityError as exc:  # the same code (or registration number) created at the same moment
        raise Conflict("an organization with this code already exists") from exc
    return organization


def department_create(*, ctx: Ctx, name: str, kind: str, code: str) -> Department:
    """Add a department to `ctx`'s organization."""
    if not (ctx.is_system or ctx.has_perm("organizations.department.manage")):
        raise Forbidden("managing departments needs the hospital administrator role")
    department = Department(organization_id=ctx.organization_id, name=name, kind=kind, code=code)
    try:
        with transaction.atomic():
            if Department.objects.for_tenant(ctx).filter(code=code).exists():
                raise Conflict("a department with this code already exists")
            _validated(department)
            department.save()
    except IntegrityError as exc:  # created at the same moment by another request
        raise Conflict("a department with this code already exists") from exc
    return department


def departments_ensure_standard(*, ctx: Ctx) -> list[Department]:
    """Create whichever of the 12 common departments `ctx`'s organization lacks (idempotent)."""
    existing = set(Department.objects.for_tenant(ctx).values_list("code", flat=True))
    return [
        department_create(ctx=ctx, name=kind.label, kind=kind.value, code=kind.value.replace("_", "-"))
        for kind in STANDARD_DEPARTMENTS
        if kind.value.replace("_", "-") not in existing
    ]
