"""Security events: the one place sign-ins, failures, lockouts, second-factor and password changes,
role changes and break-the-glass are recorded. The audit trail takes these over by changing this
function only."""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from phb.kernel.context import Ctx

log = structlog.get_logger("phb.security")


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
    from phb.accounts.models import SecurityEvent

    SecurityEvent.objects.create(
        action=action,
        outcome=outcome,
        user_id=user_id,
        actor_id=ctx.actor_id,
        organization_id=organization_id or ctx.organization_id,
        ip=ctx.ip,
        user_agent=ctx.user_agent[:300],
        request_id=ctx.request_id,
        detail=detail,
    )
    log.info("security." + action, outcome=outcome, user_id=str(user_id) if user_id else None)
