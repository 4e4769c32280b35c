"""Reads of accounts: the context of a request, a user's memberships."""

from __future__ import annotations

import uuid

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from phb.accounts.models import Membership, User
from phb.accounts.roles import PLATFORM_PERMISSIONS, permissions_for
from phb.kernel.context import Ctx

ACTIVE_ORGANIZATION_SESSION_KEY = "phb.active_organization_id"


def membership_list_for_user(*, ctx: Ctx, user_id: uuid.UUID) -> list[Membership]:
    return list(Membership.objects.for_user(ctx, user_id=user_id).filter(is_active=True).order_by("created_at"))


def context_for_user(
    *,
    user: User,
    active_organization_id: str | None = None,
    request_id: str | None = None,
    ip: str | None = None,
    user_agent: str = "",
) -> Ctx:
    """The context a user acts in: their active membership's organization, roles and permissions."""
    memberships = membership_list_for_user(
        ctx=Ctx.system(reason="resolve the signed-in user's memberships"), user_id=user.id
    )
    active = next((m for m in memberships if str(m.organization_id) == active_organization_id), None)
    if active is None and len(memberships) == 1:
        active = memberships[0]
    roles = frozenset(active.roles) if active else frozenset()
    permissions = permissions_for(roles)
    if user.is_platform_operator:
        roles |= {"platform_operator"}
        permissions |= PLATFORM_PERMISSIONS
    verified = getattr(user, "is_verified", None)
    if (memberships or user.is_platform_operator) and not (callable(verified) and verified()):
        # SECURITY: staff who have not passed their second factor hold no permission at all.
        permissions = frozenset()
    kwargs = {"request_id": request_id} if request_id else {}
    return Ctx(
        actor_id=user.id,
        organization_id=active.organization_id if active else None,
        roles=roles,
        permissions=permissions,
        ip=ip,
        user_agent=user_agent,
        member_of=frozenset(m.organization_id for m in memberships),
        **kwargs,
    )


def client_ip(request: HttpRequest) -> str | None:
    # SECURITY: REMOTE_ADDR only; behind a proxy, the proxy (or a middleware configured for it) sets it.
    return request.META.get("REMOTE_ADDR") or None


def anonymous_ctx(request: HttpRequest) -> Ctx:
    return Ctx.anonymous(
        request_id=getattr(request, "request_id", None),
        ip=client_ip(request),
        user_agent=request.headers.get("User-Agent", "")[:300],
    )


def context_for_request(request: HttpRequest) -> Ctx:
    """Lazily built: requests that never look at the context (static files, health) cost nothing."""

    def build() -> Ctx:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return anonymous_ctx(request)
        # A JWT names its organization; a browser session keeps the one the user picked.
        active = getattr(user, "token_organization_id", None) or request.session.get(ACTIVE_ORGANIZATION_SESSION_KEY)
        return context_for_user(
            user=user,
            active_organization_id=active,
            request_id=getattr(request, "request_id", None),
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:300],
        )

    return SimpleLazyObject(build)  # type: ignore[return-value]


def member_organization_ids(*, ctx: Ctx, user_id: uuid.UUID | None = None) -> list[uuid.UUID]:
    """The organizations a user (by default `ctx`'s actor) is an active member of."""
    if user_id in (None, ctx.actor_id) and ctx.member_of is not None:
        return sorted(ctx.member_of)
    user_id = user_id or ctx.actor_id
    if user_id is None:
        return []
    return [m.organization_id for m in membership_list_for_user(ctx=ctx, user_id=user_id)]


def organization_id_for_code(code: str) -> uuid.UUID | None:
    """The active organization a hospital code names (typed by administrators at sign-in)."""
    from phb.kernel.models import Organization

    ctx = Ctx.system(reason="resolve a hospital code at sign-in")
    return Organization.objects.for_platform(ctx).filter(code=code, is_active=True).values_list("id", flat=True).first()


def organization_names(ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, str]]:
    from phb.kernel.models import Organization

    ctx = Ctx.system(reason="name the organizations a user belongs to")
    return list(Organization.objects.for_member(ctx, organization_ids=ids).values_list("id", "name"))
