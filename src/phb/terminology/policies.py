"""Who may browse the code systems: staff at work.

Codes hold no personal data, but the API and pages serve the clinical record: they answer staff acting
for an organization (staff who have not passed their second factor hold no permission at all, so they
are refused too) and the platform's own jobs; not patients, not anonymous callers."""

from __future__ import annotations

from phb.kernel.context import Ctx


def can_browse(ctx: Ctx) -> bool:
    return ctx.is_system or (ctx.is_authenticated and ctx.organization_id is not None and bool(ctx.permissions))
