"""The catalogue of roles (held as data in `data/roles.json`) and the permissions each grants.

Permissions are strings "<area>.<entity>.<verb>". Deny by default: a permission no role grants is held
by nobody. The clinician capability flags (can prescribe, can view patient records, ...) are role
properties, so they come with a membership's roles, never with the user.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CATALOGUE = Path(__file__).parent / "data" / "roles.json"


@dataclass(frozen=True, slots=True)
class Role:
    code: str
    name: str
    kind: str  # staff | patient | platform
    capabilities: frozenset[str]
    permissions: frozenset[str]


@cache
def catalogue() -> dict[str, Role]:
    data = json.loads(CATALOGUE.read_text())
    return {
        r["code"]: Role(r["code"], r["name"], r["kind"], frozenset(r["capabilities"]), frozenset(r["permissions"]))
        for r in data["roles"]
    }


@cache
def capability_permissions() -> dict[str, str]:
    return dict(json.loads(CATALOGUE.read_text())["capabilities"])


def staff_role_codes() -> list[str]:
    return [code for code, role in catalogue().items() if role.kind == "staff"]


def permissions_for(roles: Iterable[str]) -> frozenset[str]:
    """Union of the permissions of `roles`; unknown codes grant nothing."""
    out: set[str] = set()
    table = catalogue()
    for code in roles:
        role = table.get(code)
        if role is not None:
            out |= role.permissions
    return frozenset(out)


PLATFORM_PERMISSIONS = permissions_for(["platform_operator"])
