"""Who may do what to organizations and departments.

Visibility is decided by the selectors' scopes (an organization one may not see is not found);
these answer the "may they change it" questions.
"""

from __future__ import annotations

from phb.kernel.context import Ctx


def can_create_organization(ctx: Ctx) -> bool:
    return ctx.has_perm("platform.organizations.manage")
