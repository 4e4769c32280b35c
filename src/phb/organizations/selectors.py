"""Reads of organizations and departments, scoped to what the context may see."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from phb.accounts.public import member_organization_ids
from phb.kernel.context import Ctx
from phb.kernel.errors import NotFound
from phb.kernel.models import Organization
from phb.organizations.models import Department


def organization_list(*, ctx: Ctx) -> QuerySet[Organization]:
    """Every organization for a platform operator; one's own organizations for anybody else."""
    if ctx.has_perm("platform.organizations.view"):
        return Organization.objects.for_platform(ctx)
    return Organization.objects.for_member(ctx, organization_ids=member_organization_ids(ctx=ctx))


def organization_get(*, ctx: Ctx, organization_id: uuid.UUID) -> Organization:
    """One organization visible to `ctx`; another's is NotFound (existence is not leaked)."""
    organization = organization_list(ctx=ctx).filter(id=organization_id).first()
    if organization is None:
        raise NotFound("no such organization")
    return organization


def department_list(*, ctx: Ctx) -> QuerySet[Department]:
    return Department.objects.for_tenant(ctx).filter(is_active=True)
