"""The catalogue of roles and what each may do. Permissions are strings "<area>.<entity>.<verb>".

Deny by default: a permission no role grants is held by nobody. Object-level rules (which patient,
which organization) are decided by each app's policies on top of these.
"""

from __future__ import annotations

from collections.abc import Iterable

PLATFORM_PERMISSIONS = frozenset(
    {
        "platform.organizations.view",
        "platform.organizations.manage",
    }
)

ORGANIZATION_MEMBER = frozenset({"organizations.organization.view", "organizations.department.view"})

ROLES: dict[str, frozenset[str]] = {
    "hospital_admin": ORGANIZATION_MEMBER
    | {
        "organizations.organization.update",
        "organizations.department.manage",
        "accounts.membership.manage",
    },
    "doctor": ORGANIZATION_MEMBER,
    "nurse": ORGANIZATION_MEMBER,
    "receptionist": ORGANIZATION_MEMBER,
}


def permissions_for(roles: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for role in roles:
        out |= ROLES.get(role, frozenset())
    return frozenset(out)
