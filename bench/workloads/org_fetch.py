"""One organization by primary key among 1,000: raw psycopg (reference), the ORM through the fail-closed
`for_tenant` scope, and the REST API in-process as a signed-in doctor of that organization.

(b)/(a) is what the ORM and the tenancy scope cost over the driver; (c)/(a) is what a whole API request
costs (middleware, session, second-factor check, context, serializer) over one query.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from bench.runner import CheckFailed, Variant, Workload

FIXTURE_ORGANIZATIONS = 1000
CODE_PREFIX = "bench-"
TARGET_CODE = f"{CODE_PREFIX}00500"
MEMBER_EMAIL = "bench-member@phb.example"


def ensure_fixtures() -> tuple[Any, Any]:
    """(target organization, its doctor): created when missing, so that reruns reuse them.

    The 1,000 organizations go in with one scoped bulk_create: organization_create() would also publish
    1,000 outbox events the benchmark does not need. The member goes through the account services.
    """
    from phb.accounts import services as accounts
    from phb.accounts.models import Membership, User
    from phb.kernel.context import Ctx
    from phb.kernel.models import Organization, OrganizationType, new_registration_number

    system = Ctx.system(reason="bench fixtures")
    organizations = Organization.objects.for_platform(system)
    existing = set(organizations.filter(code__startswith=CODE_PREFIX).values_list("code", flat=True))
    missing = [
        Organization(
            name=f"Bench Hospital {i}",
            kind=OrganizationType.HOSPITAL,
            code=code,
            registration_number=new_registration_number(OrganizationType.HOSPITAL),
        )
        for i in range(FIXTURE_ORGANIZATIONS)
        if (code := f"{CODE_PREFIX}{i:05d}") not in existing
    ]
    organizations.bulk_create(missing, batch_size=500)
    target = organizations.get(code=TARGET_CODE)

    user = User.objects.filter(email=MEMBER_EMAIL).first()
    if user is None:  # never signs in with it: the client is force-logged-in
        user = accounts.user_create(
            ctx=system, email=MEMBER_EMAIL, password=secrets.token_urlsafe(24), full_name="Bench Member"
        )
    in_target = Ctx.system(reason="bench fixtures", organization_id=target.id)
    membership = Membership.objects.for_tenant(in_target).filter(user=user).first()
    if membership is None:
        membership = accounts.membership_create(ctx=in_target, user=user, roles=["doctor"])
    if not (membership.is_active and "doctor" in membership.roles):
        raise RuntimeError(f"{MEMBER_EMAIL}'s membership of {TARGET_CODE} is not an active doctor's")
    return target, user


def signed_in_client(user: Any) -> Any:
    """An API client signed in as `user`, second factor passed (staff get 403 MFA_REQUIRED otherwise)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from rest_framework.test import APIClient

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="bench", confirmed=True
    )
    client = APIClient()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def build(dsn: str) -> Workload:
    import psycopg
    from django.db import connection

    from phb.kernel.context import Ctx
    from phb.kernel.models import Organization

    target, user = ensure_fixtures()
    target_id: uuid.UUID = target.id
    target_name: str = target.name
    client = signed_in_client(user)
    ctx = Ctx(actor_id=user.id, organization_id=target_id, roles=frozenset({"doctor"}))

    # The very columns, in the very order, the ORM selects: the reference does the same work minus Django.
    quote = connection.ops.quote_name
    columns = [f.column for f in Organization._meta.concrete_fields]
    sql = f"SELECT {', '.join(map(quote, columns))} FROM {quote(Organization._meta.db_table)} WHERE {quote('id')} = %s"
    id_at, name_at = columns.index("id"), columns.index("name")
    conn = psycopg.connect(dsn, autocommit=True)  # persistent, like Django's (CONN_MAX_AGE)
    url = f"/api/v1/organizations/{target_id}/"

    def raw() -> Any:
        with conn.cursor() as cur:
            cur.execute(sql, (target_id,))
            return cur.fetchone()

    def orm() -> Any:
        return Organization.objects.for_tenant(ctx).get(id=target_id)

    def api() -> Any:
        return client.get(url)

    def check_raw(row: Any) -> None:
        if row is None or row[id_at] != target_id or row[name_at] != target_name:
            raise CheckFailed(f"raw SQL returned {row!r}, not {target_id} {target_name!r}")

    def check_orm(org: Any) -> None:
        if org.id != target_id or org.name != target_name:
            raise CheckFailed(f"the ORM returned {org.id} {org.name!r}, not {target_id} {target_name!r}")

    def check_api(response: Any) -> None:
        if response.status_code != 200:
            raise CheckFailed(f"GET {url} answered {response.status_code}: {response.content[:200]!r}")
        body = response.json()
        if body.get("id") != str(target_id) or body.get("name") != target_name:
            raise CheckFailed(f"GET {url} returned id {body.get('id')} name {body.get('name')!r}")

    return Workload(
        name="org_fetch",
        description="one organization by primary key among 1,000",
        reference=Variant("a. raw psycopg", raw, check_raw),
        variants=[
            Variant("b. ORM for_tenant", orm, check_orm),
            Variant("c. REST API in-process", api, check_api),
        ],
        teardown=conn.close,
    )
