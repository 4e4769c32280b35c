"""API clients: systems that read an organization's data with the OAuth2 client-credentials grant.

An organization administrator (or an operator with `phb api-client create`) registers a client with
scopes from a closed grammar (`system/<Resource|*>.read`, `.write` or `.*`); the secret is shown once and kept only as a
SHA-256 hash (it is 256 random bits, so a slow password hash would add nothing). The token endpoint
trades the id and secret for a short-lived JWT naming the organization and the scopes; every request
with it checks that the client has not been revoked, and acts in a `Ctx.client` of that organization.

SECURITY: client tokens are accepted only by the views that list `ClientTokenAuthentication` (the
FHIR API), never by the REST API's defaults.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import authentication
from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import Token

from phb.accounts.models import ApiClient, User
from phb.kernel import audit, memo
from phb.kernel.context import Ctx
from phb.kernel.errors import Forbidden, NotFound, ValidationFailed

TOKEN_LIFETIME = dt.timedelta(minutes=5)
# The resource types a scope may name, with the permission each grants inside PHB. A closed list: a
# scope naming anything else is refused at registration.
SCOPE_PERMISSIONS: dict[str, frozenset[str]] = {
    "Patient": frozenset({"patients.demographics.view"}),
    "Practitioner": frozenset({"organizations.organization.view"}),
    "PractitionerRole": frozenset({"organizations.organization.view"}),
    "Organization": frozenset({"organizations.organization.view"}),
    "Encounter": frozenset({"clinical.record.view"}),
    "Observation": frozenset({"clinical.record.view"}),
    "Condition": frozenset({"clinical.record.view"}),
    "AllergyIntolerance": frozenset({"clinical.record.view"}),
    "Immunization": frozenset({"clinical.record.view"}),
    "Appointment": frozenset({"scheduling.appointment.view"}),
    "AuditEvent": frozenset({"audit.event.view"}),
    "Group": frozenset({"organizations.organization.view"}),
    "Medication": frozenset({"organizations.organization.view"}),
    "MedicationRequest": frozenset({"clinical.record.view"}),
    "MedicationDispense": frozenset({"clinical.record.view"}),
    "CarePlan": frozenset({"clinical.record.view"}),
    "DocumentReference": frozenset({"clinical.record.view"}),
    "Consent": frozenset({"patients.demographics.view"}),
    "Location": frozenset({"organizations.organization.view"}),
    "Schedule": frozenset({"organizations.organization.view"}),
    "Slot": frozenset({"scheduling.appointment.view"}),  # computed free/busy intervals: no patient
}
# What a write scope grants: the permissions the write services check (the clinical ones need to see the
# record they add to, within the patients registered at the client's organization).
WRITE_SCOPE_PERMISSIONS: dict[str, frozenset[str]] = {
    "Patient": frozenset({"patients.registration.manage", "patients.demographics.update"}),
    "Encounter": frozenset({"clinical.record.view", "clinical.record.update"}),
    "Observation": frozenset({"clinical.record.view", "clinical.record.update"}),
    "Condition": frozenset({"clinical.record.view", "clinical.record.update"}),
    "AllergyIntolerance": frozenset({"clinical.record.view", "clinical.record.update"}),
    "Immunization": frozenset({"clinical.record.view", "clinical.record.update"}),
}
_SCOPE = re.compile(r"^system/(?P<type>\*|[A-Z][A-Za-z]+)\.(?P<access>read|write|\*)$")
ACCESS = ("read", "write")
MANAGE = "organizations.organization.update"


def parse_scopes(text: str | list[str]) -> list[str]:
    """The scopes of a space-separated string (or list), validated against the grammar
    `system/<Resource|*>.<read|write|*>` (SMART v1), deduplicated and sorted. `write` is granted only
    for the types PHB accepts writes of. Raises ValidationFailed naming the first bad one."""
    items = text.split() if isinstance(text, str) else [s.strip() for s in text]
    if not items:
        raise ValidationFailed.field("scopes", "give at least one scope, e.g. system/Patient.read", code="required")
    for item in items:
        match = _SCOPE.fullmatch(item)
        known = SCOPE_PERMISSIONS if match is None or match["access"] != "write" else WRITE_SCOPE_PERMISSIONS
        if match is None or (match["type"] != "*" and match["type"] not in known):
            raise ValidationFailed.field(
                "scopes",
                f"{item[:60]!r} is not a scope PHB grants: system/<Resource or *>.read, .write or .*",
                code="invalid_scope",
            )
    return sorted(set(items))


def scope_types(scopes: frozenset[str] | list[str], access: str = "read") -> frozenset[str]:
    """The resource types a set of (valid) scopes lets a client read (or, with `access="write"`, write)."""
    if access not in ACCESS:
        raise ValueError(f"access is one of {ACCESS}")
    every = SCOPE_PERMISSIONS if access == "read" else WRITE_SCOPE_PERMISSIONS
    types: set[str] = set()
    for scope in scopes:
        match = _SCOPE.fullmatch(scope)
        if match is None or match["access"] not in (access, "*"):
            continue
        types |= set(every) if match["type"] == "*" else ({match["type"]} & set(every))
    return frozenset(types)


def scope_permissions(scopes: frozenset[str] | list[str]) -> frozenset[str]:
    out: set[str] = set()
    for resource_type in scope_types(scopes):
        out |= SCOPE_PERMISSIONS[resource_type]
    for resource_type in scope_types(scopes, access="write"):
        out |= WRITE_SCOPE_PERMISSIONS[resource_type]
    return frozenset(out)


def api_client_active(*, client_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    """Whether a client is still registered (not revoked) at its active organization: work done later
    on a client's behalf (a Bulk Data export) checks it before acting."""
    system = Ctx.system(reason="check that an API client is still registered")
    return (
        ApiClient.objects.for_system(system)
        .filter(id=client_id, organization_id=organization_id, revoked_at__isnull=True, organization__is_active=True)
        .exists()
    )


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --------------------------------------------------------------------------------------------------
# Registering and revoking (organization administrators, operators)
# --------------------------------------------------------------------------------------------------


def _require_manager(ctx: Ctx, action: str) -> None:
    if not ctx.has_perm(MANAGE):
        raise audit.denied(ctx, action, Forbidden("registering API clients needs an organization administrator"))


def api_client_list(*, ctx: Ctx) -> QuerySet[ApiClient]:
    """The organization's clients, newest first (no health data)."""
    _require_manager(ctx, "accounts.api_client.list")
    return ApiClient.objects.for_tenant(ctx).order_by("-created_at", "-id")


def api_client_create(*, ctx: Ctx, name: str, scopes: str | list[str]) -> tuple[ApiClient, str]:
    """Register a client of `ctx`'s organization; returns it and its secret, which is never shown again."""
    _require_manager(ctx, "accounts.api_client.create")
    name = name.strip()
    if not name:
        raise ValidationFailed.field("name", "give the client a name", code="required")
    if len(name) > 100:
        raise ValidationFailed.field("name", "at most 100 characters")
    granted = parse_scopes(scopes)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        client = ApiClient.objects.create(
            organization_id=ctx.organization_id,
            name=name,
            client_id=f"phb-{secrets.token_hex(16)}",
            secret_hash=secret_hash(secret),
            scopes=granted,
            created_by_id=ctx.actor_id if ctx.actor_kind == "user" else None,
        )
        _service_user(client)
        audit.record(ctx, "accounts.api_client.create", target=client, scopes=granted)
    return client, secret


def api_client_revoke(*, ctx: Ctx, api_client_id: uuid.UUID) -> ApiClient:
    """Revoke a client: its secret and every token it holds stop working at once."""
    _require_manager(ctx, "accounts.api_client.revoke")
    with transaction.atomic():
        client = ApiClient.objects.for_tenant(ctx).filter(id=api_client_id).select_for_update().first()
        if client is None:
            # SECURITY: another organization's client is not found.
            raise NotFound("no such API client here")
        if client.revoked_at is None:
            _mark_revoked(client.id)  # before the commit: no process trusts a cached answer from now on
            client.revoked_at = timezone.now()
            client.save(update_fields=["revoked_at", "updated_at"])
            audit.record(ctx, "accounts.api_client.revoke", target=client)
    return client


def _service_user(client: ApiClient) -> User:
    """The user a client's writes name as their author: inactive, no password, no membership, so it can
    never sign in or act on its own. Made with the client (or on first use by an older client)."""
    email = f"client-{client.client_id}@clients.invalid"
    user = User.objects.filter(email=email).first() or User.objects.create_user(
        email, password=None, full_name=f"{client.name} (API client)"[:200], is_active=False
    )
    client.service_user = user
    ApiClient.objects.for_system(Ctx.system(reason="give an API client its service user")).filter(id=client.id).update(
        service_user=user
    )
    return user


@memo.cached()
def acting_user_id(ctx: Ctx) -> uuid.UUID:
    """The user a write is recorded as made by: a user's own id, or a client's service user (created
    on first use for clients registered before service users existed). Raises PermissionError for
    any other actor (system work, devices, anonymous requests)."""
    if ctx.actor_kind == "user" and ctx.actor_id is not None:
        return ctx.actor_id
    if ctx.actor_kind == "client" and ctx.actor_id is not None:
        system = Ctx.system(reason="find the service user of an API client")
        clients = ApiClient.objects.for_system(system).filter(id=ctx.actor_id, organization_id=ctx.organization_id)
        # The common case reads without a lock: a row lock costs every write a WAL flush at commit and
        # queues the client's concurrent writes on one row. A service user, once set, never changes. It
        # reads the client's own organization's rows: inside a write bound to it, no second binding.
        mine = ApiClient.objects.for_tenant(ctx) if ctx.organization_id is not None else clients
        known = mine.filter(id=ctx.actor_id).values_list("service_user_id", flat=True).first()
        if known is not None:
            return known
        with transaction.atomic():
            client = clients.select_for_update().first()
            if client is None:
                raise PermissionError("unknown API client")
            if client.service_user_id is not None:
                return client.service_user_id
            return _service_user(client).id
    raise PermissionError(f"a {ctx.actor_kind} actor writes no records in its own name")


# --------------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------------


class ClientAccessToken(Token):
    """A JWT for a client: its own token type, so the user authentication refuses it and the other way round."""

    token_type = "client_access"  # noqa: S105 (a type name, not a secret)
    lifetime = TOKEN_LIFETIME


def _find(client_id: str) -> ApiClient | None:
    if not client_id or len(client_id) > 40:
        return None
    system = Ctx.system(reason="identify an API client by its id")
    return (
        ApiClient.objects.for_system(system)
        .filter(client_id=client_id, revoked_at__isnull=True, organization__is_active=True)
        .first()
    )


class TokenRefused(Exception):
    """An OAuth2 error (RFC 6749 §5.2): `error` is its code, `status` the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        self.error, self.description, self.status = error, description, status
        super().__init__(description)


def token_issue(*, ctx: Ctx, client_id: str, secret: str, scope: str = "") -> tuple[str, ApiClient, list[str]]:
    """Trade a client's id and secret for an access token (all its scopes, or the subset asked for).
    Raises TokenRefused. Every issue and every refusal is audited."""
    client = _find(client_id)
    if client is None or not hmac.compare_digest(client.secret_hash, secret_hash(secret or "")):
        audit.record(ctx, "accounts.api_client.token", outcome="failure", client=client_id[:40])
        raise TokenRefused("invalid_client", "unknown client or wrong secret", status=401)
    granted = list(client.scopes)
    if scope.strip():
        try:
            asked = parse_scopes(scope)
        except ValidationFailed as exc:
            raise TokenRefused("invalid_scope", exc.detail) from exc
        wider = [s for s in asked if s not in granted and not _covered(s, granted)]
        if wider:
            raise TokenRefused("invalid_scope", f"not granted to this client: {' '.join(wider)}")
        granted = asked
    token = ClientAccessToken()
    token["cid"] = str(client.id)
    token["org"] = str(client.organization_id)
    token["scope"] = " ".join(granted)
    ApiClient.objects.for_system(Ctx.system(reason="note an API client's last use")).filter(id=client.id).update(
        last_used_at=timezone.now()
    )
    audit.record(
        ctx.for_organization(client.organization_id),
        "accounts.api_client.token",
        target=client,
        scopes=granted,
    )
    return str(token), client, granted


def _covered(scope: str, granted: list[str]) -> bool:
    """Whether a scope asked for is within those granted (`system/*.*` covers every scope,
    `system/*.read` every read scope, `system/Patient.*` both of Patient's)."""
    match = _SCOPE.fullmatch(scope)
    if match is None:
        return False
    for item in granted:
        have = _SCOPE.fullmatch(item)
        if have and have["type"] in ("*", match["type"]) and have["access"] in ("*", match["access"]):
            return True
    return False


# Every request with a client's token checks that the client is still registered. Where the cache is
# shared by every process (Redis), the answer is kept there for a token's lifetime, so a request need not
# ask the database; revoking marks the entry first, and a marked entry sends every check to the database
# again (so a revocation ends the client's tokens at once in every process, and one rolled back only
# costs those checks). A per-process cache (the embedded default) would not see a revocation made by
# another process, such as `phb api-client revoke`: there, every check asks the database.
_RECHECK = "recheck"


def _registration_key(client_id: uuid.UUID) -> str:
    return f"phb:api-client:{client_id}:registered"


def _shared_cache() -> Any | None:
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    cache = caches["default"]
    return None if isinstance(cache, LocMemCache) else cache


def _still_registered(client_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    """Whether the client is registered with that organization and not revoked (see above)."""
    cache = _shared_cache()
    key = _registration_key(client_id)
    if cache is not None and cache.get(key) == str(organization_id):
        return True
    system = Ctx.system(reason="check that an API client is still registered", organization_id=organization_id)
    registered = (
        ApiClient.objects.for_tenant(system).filter(id=client_id, revoked_at__isnull=True).values("id").exists()
    )
    if registered and cache is not None:
        cache.add(key, str(organization_id), timeout=TOKEN_LIFETIME.total_seconds())  # never over a mark
    return registered


def _mark_revoked(client_id: uuid.UUID) -> None:
    cache = _shared_cache()
    if cache is not None:
        cache.set(_registration_key(client_id), _RECHECK, timeout=TOKEN_LIFETIME.total_seconds())


class ClientPrincipal:
    """What `request.user` is for a client token: authenticated, no user."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None

    def __init__(self, client_id: uuid.UUID) -> None:
        self.client_id = client_id


class ClientTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <client token>`. A user's token is left to the next authenticator."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        kind, _, raw = header.partition(" ")
        if kind.lower() != "bearer" or not raw:
            return None
        try:
            token = ClientAccessToken(raw.strip().encode())
        except TokenError:
            return None  # a user's token, or garbage: the user authentication answers
        from rest_framework.exceptions import AuthenticationFailed

        try:
            client_id, organization_id = uuid.UUID(str(token.get("cid"))), uuid.UUID(str(token.get("org")))
        except ValueError:
            raise AuthenticationFailed("This token names no client.", code="client_revoked") from None
        if not _still_registered(client_id, organization_id):
            # SECURITY: a revoked client's tokens end at once, not when they expire.
            raise AuthenticationFailed("This client has been revoked.", code="client_revoked")
        scopes = frozenset(str(token.get("scope", "")).split())
        raw_request = request._request
        ctx = Ctx.client(
            client_id=client_id,
            organization_id=organization_id,
            scopes=scopes,
            permissions=scope_permissions(scopes),
            request_id=getattr(raw_request, "request_id", None),
            ip=raw_request.META.get("REMOTE_ADDR") or None,
            user_agent=raw_request.headers.get("User-Agent", "")[:300],
        )
        raw_request.ctx = ctx  # replaces the lazily built user context for this request
        return ClientPrincipal(client_id), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="phb"'


class ClientRateThrottle(UserRateThrottle):
    """The per-user rate (THROTTLE_USER), counted per client for a client's token. DRF's own keys an
    authenticated principal by `pk`, which a client has not: every client of every organization would
    share one count, and one busy client would slow all the others down."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = request.user
        if isinstance(user, ClientPrincipal):
            return self.cache_format % {"scope": self.scope, "ident": f"client-{user.client_id}"}
        return super().get_cache_key(request, view)
