"""Security events: the one place sign-ins, failures, lockouts, second-factor and password changes,
role changes and break-the-glass are recorded. They are audit events (`accounts.<event>`) about a user."""

from __future__ import annotations

import uuid
from typing import Any

from phb.kernel import audit
from phb.kernel.context import Ctx


def record(
    ctx: Ctx,
    action: str,
    *,
    user_id: uuid.UUID | None = None,
    outcome: str = "success",
    organization_id: uuid.UUID | None = None,
    **detail: Any,
) -> None:
    """Record a security event. `detail` must hold identifiers and codes only, never health data."""
    audit.record(
        ctx,
        f"accounts.{action}",
        resource_type="accounts.User" if user_id else "",
        resource_id=user_id or "",
        outcome=outcome,
        organization_id=organization_id,
        **detail,
    )
